"""``flask rules backtest``: a dry run of rule files against every stored submission, printed like the page."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC
from datetime import date
from datetime import datetime

import click
from flask import current_app
from sqlalchemy import orm

from ...db import new_session
from ...dbcheck import needs_database
from ...models import BacktestRun
from ...models import RuleSetVersion
from ...active_rules import store
from ...engine.dry_run_comparison import Change
from ...engine.dry_run_comparison import RuleRef
from ...engine.loader import Sources
from ...active_rules.registry import RulesUnavailable
from ...active_rules.registry import checked_ruleset
from ...tuning import dry_run_reports
from ...tuning import dry_run_store
from ...tuning import dry_runs
from ...tuning.dry_run_reports import Report
from ..common import ACTOR
from .files import sources_at

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@click.command("backtest")
@click.option("--against", "against_text", metavar="VERSION", help="Stored version to compare with (default: active).")
@click.option("--from", "first", metavar="YYYY-MM-DD", help="Only submissions sent on or after this day (UTC).")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Only submissions sent on or before this day (UTC).")
@click.argument("path", required=False)
@needs_database
def backtest_command(against_text: str | None, first: str | None, last: str | None, path: str | None) -> None:
    """Dry run: evaluate the rule files at PATH against stored submissions and compare with a stored version."""
    submitted_from, submitted_to = _date_range(first, last)
    sources, prefix = sources_at(path)
    _require_valid(sources, prefix)
    with new_session(current_app) as session:
        against = _against(session, against_text)
        run = dry_run_store.start_backtest(
            session,
            candidate_sources=sources,
            against=against,
            actor=ACTOR,
            now=datetime.now(UTC),
            submitted_from=submitted_from,
            submitted_to=submitted_to,
        )
        session.commit()
        run_id, total = run.id, run.total
        against_label = against.version + (" (active)" if against_text is None else "")
    run = _run_with_progress_bar(run_id, total)
    with new_session(current_app) as session:
        found = dry_run_reports.report(session, run)
    if found is None:
        click.echo(run.error or "The dry run did not finish.", err=True)
        raise click.ClickException(f"dry run {run_id} failed")
    click.echo(f"Dry run {run_id}: {prefix or './'} ({found.candidate_version}) against {against_label}")
    click.echo(f"Submissions: {found.total} ({_period(first, last)})")
    for line in report_lines(found):
        click.echo(line)


def _date_range(first: str | None, last: str | None) -> tuple[datetime | None, datetime | None]:
    """Return the inclusive UTC bounds of --from and --to, or exit with what is wrong."""
    start, end = _day("--from", first), _day("--to", last)
    if start is not None and end is not None and start > end:
        raise click.ClickException(f"--from {first} is after --to {last}")
    return dry_run_store.day_range(start, end)


def _day(option: str, text: str | None) -> date | None:
    """Read a YYYY-MM-DD day."""
    if text is None:
        return None
    try:
        if not _DATE.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise click.ClickException(f"{option}: {text!r} is not a date; use YYYY-MM-DD") from None


def _period(first: str | None, last: str | None) -> str:
    """Describe the date range the way it was asked for."""
    if first is None and last is None:
        return "all dates"
    if last is None:
        return f"sent on or after {first}"
    if first is None:
        return f"sent on or before {last}"
    return f"sent {first} to {last}"


def _require_valid(sources: Sources, prefix: str) -> None:
    """Load and test the candidate files; print every problem and exit 1 if they do not pass."""
    try:
        checked_ruleset(sources, prefix=prefix)
    except RulesUnavailable as unavailable:
        for error in unavailable.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{len(unavailable.errors)} problem(s) in the rule files") from None


def _against(session: orm.Session, text: str | None) -> RuleSetVersion:
    """Return the stored version named by --against, or the active one."""
    if text is not None:
        try:
            return store.find_version(session, text)
        except store.VersionNotFound as missing:
            raise click.ClickException(str(missing)) from None
    current = store.active(session)
    if current is None:
        raise click.ClickException("no rule set version is active yet: name one with --against VERSION")
    return current.version


def _run_with_progress_bar(run_id: int, total: int) -> BacktestRun:
    """Run the dry run here, drawing a progress bar on a terminal (nothing otherwise)."""
    stream = sys.stderr
    with click.progressbar(
        length=max(total, 1), label="Evaluating submissions", file=stream, hidden=not stream.isatty()
    ) as bar:
        done = 0

        def advance(processed: int, _total: int) -> None:
            nonlocal done
            bar.update(processed - done)
            done = processed

        return dry_runs.run_backtest(current_app, run_id, progress=advance)


def report_lines(report: Report) -> list[str]:
    """Return the comparison as the page shows it: counts, transitions and changed submissions."""
    lines = ["", *_outcome_table(report), "", *_transition_table(report), ""]
    if report.errors_before or report.errors_after:
        lines.append(
            f"Evaluation failed for {report.errors_before} submission(s) before and {report.errors_after} after "
            "(counted under the error outcome)."
        )
    lines.append(f"{report.changed_total} submission(s) would change outcome.")
    for change in report.changes:
        lines.extend(_change_lines(change))
    if report.truncation_note:
        lines.append(report.truncation_note)
    return lines


def _outcome_table(report: Report) -> list[str]:
    """Return the counts per outcome: before, after and the difference."""
    width = max([len("Outcome"), *(len(row.outcome) for row in report.outcomes)])
    lines = [f"{'Outcome':<{width}}  {'Before':>8}  {'After':>8}  {'Difference':>10}"]
    for row in report.outcomes:
        lines.append(f"{row.outcome:<{width}}  {row.before:>8}  {row.after:>8}  {_signed(row.difference):>10}")
    lines.append(f"{'Total':<{width}}  {report.total:>8}  {report.total:>8}")
    return lines


def _transition_table(report: Report) -> list[str]:
    """Return the from -> to table, changed outcomes first."""
    labels = [f"{row.before} -> {row.after}" for row in report.transitions]
    width = max([len("From -> to"), *map(len, labels)])
    lines = [f"{'From -> to':<{width}}  {'Submissions':>11}"]
    for label, row in zip(labels, report.transitions, strict=True):
        lines.append(f"{label:<{width}}  {row.count:>11}" + ("" if row.changed else "  (unchanged)"))
    return lines


def _change_lines(change: Change) -> list[str]:
    """Return one changed submission: reference, outcomes, rules and facts (never answers or notes)."""
    lines = [f"{change.reference}  {change.before} -> {change.after}"]
    if change.rules_before:
        lines.append(f"    rules before: {_rules(change.rules_before)}")
    if change.rules_after:
        lines.append(f"    rules after:  {_rules(change.rules_after)}")
    if change.error_before or change.error_after:
        lines.append(f"    evaluation failed: before {change.error_before or '-'}, after {change.error_after or '-'}")
    if change.facts:
        lines.append("    facts: " + ", ".join(f"{name}={_value(value)}" for name, value in change.facts.items()))
    if change.facts_changed:
        changed = ", ".join(
            f"{name}: {_value(old)} -> {_value(new)}" for name, (old, new) in change.facts_changed.items()
        )
        lines.append(f"    facts changed: {changed}")
    return lines


def _rules(rules: tuple[RuleRef, ...]) -> str:
    """Return rule ids with the outcome each proposed."""
    return ", ".join(f"{rule.rule} ({rule.outcome or 'notes only'})" for rule in rules)


def _value(value: object) -> str:
    """Return a fact value as JSON."""
    return json.dumps(value, ensure_ascii=False)


def _signed(number: int) -> str:
    """Return a difference with its sign."""
    return f"{number:+d}" if number else "0"
