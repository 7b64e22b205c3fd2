"""``flask rules check|test|facts|activate|reevaluate|explain``: the rule files, the active set and decisions."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

import click
from sqlalchemy import orm
from flask import current_app
from flask.cli import with_appcontext

from ... import db
from ...dbcheck import needs_database
from ...decisions import decision_history
from ...decisions import reevaluate
from ...decisions import submission_by_reference
from ...models import Decision
from ...models import Submission
from ...active_rules import registry
from ...active_rules import require_ruleset
from ...engine import bounded_check
from ...engine import budget
from ...engine.cases import CaseResult
from ...engine.cases import failures
from ...engine.facts import FACTS
from ...engine.loader import load_ruleset
from ...engine.loader import read_sources
from ...engine.model import RuleSet
from ...engine.model import RuleSetInvalid
from ...active_rules.registry import FILES_INVALID
from ...active_rules.registry import FILES_MISSING
from ...active_rules.registry import FILES_UNPUBLISHED
from ...active_rules.registry import Registry
from ...active_rules.registry import RulesUnavailable
from ...active_rules.registry import checked_ruleset
from ..common import ACTOR
from ..common import FLASK
from .files import read_target
from .files import shown_directory


def _load_or_exit(path: str | None) -> tuple[RuleSet, Callable[[str], str]]:
    """Load the rule files at PATH, or print every error and exit 1; return how files are named in messages."""
    sources, _, shown = read_target(path)
    try:
        return load_ruleset(sources), shown
    except RuleSetInvalid as invalid:
        for error in invalid.errors:
            click.echo(str(dataclasses.replace(error, file=shown(error.file))), err=True)
        raise click.ClickException(f"{len(invalid.errors)} error(s) in the rule files") from None


def _cases_or_exit(ruleset: RuleSet, shown: Callable[[str], str]) -> list[CaseResult]:
    """Run the test cases in a bounded child process, or print the rule that went over the budget and exit 1."""
    try:
        return bounded_check.bounded_cases(ruleset)
    except budget.Exceeded as exceeded:
        error = exceeded.rule_error()
        click.echo(str(dataclasses.replace(error, file=shown(error.file))), err=True)
        raise click.ClickException("a condition went over the evaluation budget") from None


def _where(result: CaseResult, shown: Callable[[str], str]) -> str:
    """Return ``file:line`` of a test case, the file named as in every other message."""
    return f"{shown(result.case.file)}:{result.case.line}"


@click.command("check")
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


@click.command("test")
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


@click.command("facts")
@with_appcontext
def facts_command() -> None:
    """List the facts rule conditions may use: name, type and meaning."""
    width = max(len(fact.name) for fact in FACTS)
    for fact in FACTS:
        click.echo(f"{fact.name:<{width}}  {fact.type_name:<12}  {fact.meaning}")


@click.command("activate")
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
    shown = shown_directory(directory) or "./"
    publish = f"{FLASK} rules publish --by EMAIL"
    if rules.files_state == FILES_UNPUBLISHED:
        click.echo(
            f"The files in {shown} differ from the active version: they are a valid, unpublished change "
            f"({rules.files_version}). Workers keep the active version; publish the files with: {publish}"
        )
    elif rules.files_state == FILES_INVALID:
        sources = read_sources(directory)
        try:
            checked_ruleset(sources, prefix=shown_directory(directory))
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
            f"{FLASK} rules export {rules.version} {directory}"
        )


@click.command("reevaluate")
@click.argument("reference")
@needs_database
def reevaluate_command(reference: str) -> None:
    """Decide a submission again with the active rule set; the earlier decisions are kept."""
    ruleset = require_ruleset(current_app)
    with db.new_session(current_app) as session:
        submission = _find_submission(session, reference)
        decision = reevaluate(session, submission, ruleset, now=datetime.now(UTC), actor=ACTOR)
        session.commit()
        click.echo(
            f"Submission {submission.reference}: {decision.outcome} (decision {decision.id}, {decision.ruleset_version})"
        )


def _find_submission(session: orm.Session, reference: str) -> Submission:
    """Return the submission with a reference code, ignoring case and the dash."""
    submission = submission_by_reference(session, reference)
    if submission is None:
        raise click.ClickException(f"no submission with reference {reference}")
    return submission


@click.command("explain")
@click.argument("reference")
@needs_database
def explain_command(reference: str) -> None:
    """Show how a submission's outcome was decided: every rule, fact and note."""
    with db.new_session(current_app) as session:
        submission = _find_submission(session, reference)
        decisions = decision_history(session, submission)
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
