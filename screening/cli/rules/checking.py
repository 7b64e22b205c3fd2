"""``flask rules check|test|facts|explain|activate`` and ``flask screen``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import BinaryIO

import click
import sqlalchemy as sa
from sqlalchemy import orm
from flask import current_app
from flask.cli import with_appcontext

from ... import db
from ...dbcheck import needs_database
from ...decisions import reevaluate
from ...errors import AnswersError
from ...models import Decision
from ...models import Submission
from ...rules import registry
from ...rules import require_ruleset
from ...ruleset import budget
from ...ruleset.cases import CaseResult
from ...ruleset.cases import failures
from ...ruleset.engine import screen_document
from ...ruleset.facts import FACTS
from ...ruleset.loader import Sources
from ...ruleset.loader import limit_problems
from ...ruleset.loader import load_ruleset
from ...ruleset.loader import read_sources
from ...ruleset.model import RuleSet
from ...ruleset.model import RuleSetInvalid
from ...ruleset.registry import FILES_INVALID
from ...ruleset.registry import FILES_MISSING
from ...ruleset.registry import FILES_UNPUBLISHED
from ...ruleset.registry import Registry
from ...ruleset.registry import RulesUnavailable
from ...ruleset.registry import checked_ruleset
from ...ruleset.spec import OUTCOMES_FILE


def echo_json(data: object) -> None:
    """Print data as indented JSON."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


@click.group("rules")
def rules_group() -> None:
    """Check, test and explain the rule files."""


def sources_at(path: str | None) -> tuple[Sources, str]:
    """Return the sources to check and the prefix their files are shown under.

    PATH is a rules directory, or one file checked together with the rest of its directory.
    """
    sources, prefix, _ = _read_target(path)
    return sources, prefix


def _read_target(path: str | None) -> tuple[Sources, str, Callable[[str], str]]:
    """Return the sources at PATH, the prefix of their directory, and how a file is named in messages.

    A file given on its own is named as given, also when it stands in for a file of the app's rules directory.
    """
    target = Path(path or current_app.config["RULES_DIR"])
    if not target.exists():
        raise click.ClickException(f"{target}: no such file or directory")
    directory = target if target.is_dir() else _directory_of(target)
    prefix = _shown(directory)
    given = None if target.is_dir() else _source_name(target, directory)
    try:
        sources = read_sources(directory)
        if given is not None:
            sources[given] = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{target}: rule files must be UTF-8 text ({error.reason})") from None
    shown = _namer(target, given, prefix)
    too_large = limit_problems(sources)  # the limits a rule set saved in the browser has
    if too_large:
        raise click.ClickException("; ".join(str(dataclasses.replace(p, file=shown(p.file))) for p in too_large))
    return sources, prefix, shown


def _namer(target: Path, given: str | None, prefix: str) -> Callable[[str], str]:
    """Return how a file is named in messages: the file given as given, the others under the directory's prefix."""
    return lambda file: str(target) if file == given else prefix + file


def _source_name(file: Path, directory: Path) -> str:
    """Return the name a single file is checked under: its path inside ``directory``, or else its own name."""
    if file.resolve().is_relative_to(directory.resolve()):
        return file.resolve().relative_to(directory.resolve()).as_posix()
    return file.name


def _directory_of(file: Path) -> Path:
    """Return the rules directory a single file is checked with: its own, or else the app's."""
    return file.parent if (file.parent / OUTCOMES_FILE).exists() else Path(current_app.config["RULES_DIR"])


def _shown(directory: Path) -> str:
    """Return how a directory is written before file names: relative when it is below here, else as is."""
    text = str(directory)
    if directory.is_absolute() and directory.resolve().is_relative_to(Path.cwd().resolve()):
        text = os.path.relpath(directory)
    return "" if text == "." else text.rstrip("/") + "/"


def _load_or_exit(path: str | None) -> tuple[RuleSet, Callable[[str], str]]:
    """Load the rule files at PATH, or print every error and exit 1; return how files are named in messages."""
    sources, _, shown = _read_target(path)
    try:
        return load_ruleset(sources), shown
    except RuleSetInvalid as invalid:
        for error in invalid.errors:
            click.echo(str(dataclasses.replace(error, file=shown(error.file))), err=True)
        raise click.ClickException(f"{len(invalid.errors)} error(s) in the rule files") from None


def _cases_or_exit(ruleset: RuleSet, shown: Callable[[str], str]) -> list[CaseResult]:
    """Run the test cases in a bounded child process, or print the rule that went over the budget and exit 1."""
    try:
        return budget.bounded_cases(ruleset)
    except budget.Exceeded as exceeded:
        error = exceeded.rule_error()
        click.echo(str(dataclasses.replace(error, file=shown(error.file))), err=True)
        raise click.ClickException("a condition went over the evaluation budget") from None


def _where(result: CaseResult, shown: Callable[[str], str]) -> str:
    """Return ``file:line`` of a test case, the file named as in every other message."""
    return f"{shown(result.case.file)}:{result.case.line}"


@rules_group.command("check")
@click.argument("path", required=False)
@with_appcontext
def check_command(path: str | None) -> None:
    """Load and type-check the rule files (a directory or one file) and run their test cases; exit 1 on any error."""
    ruleset, shown = _load_or_exit(path)
    failed = failures(_cases_or_exit(ruleset, shown))
    for result in failed:
        click.echo(f"FAIL {_where(result, shown)} {result.case.spec.name}: {'; '.join(result.problems)}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(ruleset.cases)} test case(s) failed")
    click.echo(f"OK: {len(ruleset.rules)} rules, {len(ruleset.cases)} test cases, version {ruleset.version}")


@rules_group.command("test")
@click.argument("path", required=False)
@with_appcontext
def test_command(path: str | None) -> None:
    """Run the test cases written in the rule files; exit 1 if any fails."""
    ruleset, shown = _load_or_exit(path)
    results = _cases_or_exit(ruleset, shown)
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        click.echo(f"{status} {_where(result, shown)} {result.case.spec.name}")
        for problem in result.problems:
            click.echo(f"     {problem}")
    failed = len(failures(results))
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@rules_group.command("facts")
@with_appcontext
def facts_command() -> None:
    """List the facts rule conditions may use: name, type and meaning."""
    width = max(len(fact.name) for fact in FACTS)
    for fact in FACTS:
        click.echo(f"{fact.name:<{width}}  {fact.type_name:<12}  {fact.meaning}")


@rules_group.command("activate")
@needs_database
def activate_command() -> None:
    """Make sure a rule set is active (the files on the very first start) and say how the files on disk stand.

    Exit 1 only when no rule set can be active at all.
    """
    try:
        ruleset = require_ruleset(current_app)
    except RulesUnavailable as unavailable:
        for error in unavailable.errors:
            click.echo(error, err=True)
        raise click.ClickException("no valid rule set: the app cannot decide outcomes") from None
    click.echo(f"Active rule set: {ruleset.version}")
    _report_files(registry(current_app))


def _report_files(rules: Registry) -> None:
    """Say whether the files on disk are the active version, an unpublished change, invalid or missing."""
    directory = rules.directory
    shown = _shown(directory) or "./"
    publish = "flask --app screening rules publish --by EMAIL"
    if rules.files_state == FILES_UNPUBLISHED:
        click.echo(
            f"The files in {shown} differ from the active version: they are a valid, unpublished change "
            f"({rules.files_version}). Workers keep the active version; publish the files with: {publish}"
        )
    elif rules.files_state == FILES_INVALID:
        sources = read_sources(directory)
        try:
            checked_ruleset(sources, prefix=_shown(directory))
            errors: list[str] = []
        except RulesUnavailable as unavailable:
            errors = unavailable.errors
        click.echo(
            f"The files in {shown} differ from the active version and are invalid ({len(errors)} problem(s)); "
            f"workers keep the active version. Fix them, then publish them with: {publish}"
        )
        for error in errors:
            click.echo(error, err=True)
    elif rules.files_state == FILES_MISSING:
        click.echo(
            f"There are no rule files in {shown}; write out the active version with: "
            f"flask --app screening rules export {rules.version} {directory}"
        )


@rules_group.command("reevaluate")
@click.argument("reference")
@needs_database
def reevaluate_command(reference: str) -> None:
    """Decide a submission again with the active rule set; the earlier decisions are kept."""
    ruleset = require_ruleset(current_app)
    with db.new_session(current_app) as session:
        submission = _find_submission(session, reference)
        decision = reevaluate(session, submission, ruleset, now=datetime.now(UTC), actor="cli")
        session.commit()
        click.echo(
            f"Submission {submission.reference}: {decision.outcome} (decision {decision.id}, {decision.ruleset_version})"
        )


def _find_submission(session: orm.Session, reference: str) -> Submission:
    """Return the submission with a reference code, ignoring case and the dash."""
    code = reference.strip().upper().replace("-", "")
    submission = session.scalar(sa.select(Submission).where(sa.func.replace(Submission.reference, "-", "") == code))
    if submission is None:
        raise click.ClickException(f"no submission with reference {reference}")
    return submission


@rules_group.command("explain")
@click.argument("reference")
@needs_database
def explain_command(reference: str) -> None:
    """Show how a submission's outcome was decided: every rule, fact and note."""
    with db.new_session(current_app) as session:
        submission = _find_submission(session, reference)
        decisions = session.scalars(
            sa.select(Decision).where(Decision.submission_id == submission.id).order_by(Decision.id)
        ).all()
    click.echo(f"Submission {submission.reference}, submitted {submission.submitted_at:%Y-%m-%d %H:%M} UTC")
    for decision in decisions:
        _explain_decision(decision)


def _explain_decision(decision: Decision) -> None:
    """Print one decision's trace."""
    click.echo(f"\nDecision {decision.id} at {decision.created_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"  outcome: {decision.outcome} (queue priority {decision.priority})")
    click.echo(
        f"  rule set: {decision.ruleset_version}  engine: {decision.engine_version}  form: {decision.form_version}"
    )
    if decision.error:
        click.echo(f"  evaluation failed: {decision.error}")
    for fired in decision.fired:
        click.echo(f"  fired {fired['rule']}" + (f" -> {fired['outcome']}" if fired["outcome"] else " (notes only)"))
        click.echo(f"    {fired['description']}")
        for name, value in fired["facts"].items():
            click.echo(f"    {name} = {json.dumps(value)}")
    for note in decision.notes:
        click.echo(f"  note for the {note['audience']} ({note['rule']}): {note['text']}")
    for trial in decision.trials:
        verdict = "counts toward TRD" if trial["counts"] else "does not count: " + "; ".join(trial["reasons"])
        click.echo(f"  trial {trial['drug']}: {verdict}")


@click.command("screen")
@click.argument("file", type=click.File("rb"))
@needs_database
def screen_command(file: BinaryIO) -> None:
    """Screen an answers document (or a JSON list of them) with the active rule set; store nothing."""
    data = _read_json(file.read())
    try:
        ruleset = require_ruleset(current_app)
    except RulesUnavailable as unavailable:
        raise click.ClickException(f"no valid rule set: {unavailable.errors[0]}") from None
    documents = data if isinstance(data, list) else [data]
    results = []
    for index, document in enumerate(documents):
        try:
            results.append(screen_document(document, ruleset).as_result())
        except AnswersError as error:
            where = f"[{index}]." if isinstance(data, list) else ""
            raise click.ClickException(f"{where}{error.field}: {error.reason}") from None
    echo_json(results if isinstance(data, list) else results[0])


def _read_json(content: bytes) -> Any:
    """Return the JSON in ``content`` (UTF-8, with or without a byte order mark), or exit 1 saying why it is not."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"document: not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"document: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


from .backtest import backtest_command  # noqa: E402 - registered last: the command reads sources_at from here

rules_group.add_command(backtest_command)
