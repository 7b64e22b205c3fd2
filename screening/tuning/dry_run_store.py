"""Stored dry runs: their states, who may start and read them, starting one, listing and reading them.

``start_backtest`` stores a queued run of a candidate's files against a stored version; ``dry_runs``
runs it on the task queue and stores its progress and result (``store_result``: the counts in
``BacktestRun.result``, each changed submission a ``BacktestChange`` row by position, so a page reads
only the changes it shows). Lists and progress never load a run's result or files
(``recent_runs``, ``get_run(..., light=True)``). Staff and admins start dry runs
(DRY_RUN_ROLES); the fact values of individual patients are shown to clinical roles only (FACT_ROLES,
``dry_run_reports.report`` leaves them out for the others).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..models import BacktestChange
from ..models import BacktestRun
from ..models import RuleSetVersion
from ..models import Submission
from ..engine.dry_run_comparison import Change
from ..engine.dry_run_comparison import Comparison
from ..engine.loader import Sources
from ..engine.loader import version_of
from .errors import TuningInvalid
from .errors import TuningNotFound

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
#: A queued or running dry run whose progress has not moved for this long was interrupted.
STALLED_AFTER = timedelta(minutes=5)
#: Who may start (or start again) a dry run: those who write rules, not those who approve them.
DRY_RUN_ROLES = ("staff", "admin")
#: Who may read the fact values of individual patients in a dry run's changed submissions.
FACT_ROLES = ("physician", "admin")
#: Loader options that leave unread the columns only a result page and the task need (megabytes at scale).
LIGHT = (orm.defer(BacktestRun.result), orm.defer(BacktestRun.candidate_sources))
#: The key of ``BacktestRun.result`` that counts the changes stored as ``BacktestChange`` rows.
CHANGES_KEPT = "changes_kept"
#: Changes inserted per statement.
_INSERT_BATCH = 1000


# --- Starting a run ---------------------------------------------------------------------------------


def start_backtest(
    session: orm.Session,
    *,
    candidate_sources: Sources,
    against: RuleSetVersion,
    actor: str,
    now: datetime,
    draft_id: int | None = None,
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
) -> BacktestRun:
    """Store a queued dry run of ``candidate_sources`` against ``against``; the caller commits and enqueues.

    ``submitted_from`` and ``submitted_to`` (aware datetimes, both inclusive) limit the submissions;
    ``day_range`` turns calendar days into them. ``total`` counts the submissions in the range now.
    """
    if submitted_from is not None and submitted_to is not None and submitted_from > submitted_to:
        raise TuningInvalid("The start of the date range is after its end.")
    sources = {str(name): str(text) for name, text in candidate_sources.items()}
    total = session.scalar(
        sa.select(sa.func.count()).select_from(Submission).where(*in_range(submitted_from, submitted_to))
    )
    run = BacktestRun(
        created_at=now,
        created_by=actor,
        draft_id=draft_id,
        candidate_version=version_of(sources),
        candidate_sources=sources,
        against_version_id=against.id,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        status=QUEUED,
        total=int(total or 0),
        processed=0,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="ruleset.backtest_started",
        subject_type="backtest_run",
        subject_id=run.id,
        at=now,
        details={"candidate": run.candidate_version, "against": against.version, "draft": draft_id},
    )
    return run


def day_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """Return the inclusive UTC bounds of the calendar days ``first`` to ``last`` (either may be open)."""
    start = datetime.combine(first, time.min, tzinfo=UTC) if first is not None else None
    end = datetime.combine(last, time.max, tzinfo=UTC) if last is not None else None
    return start, end


def in_range(submitted_from: datetime | None, submitted_to: datetime | None) -> list[sa.ColumnElement[bool]]:
    """Return the conditions that keep submissions inside the date range."""
    conditions = []
    if submitted_from is not None:
        conditions.append(Submission.submitted_at >= submitted_from)
    if submitted_to is not None:
        conditions.append(Submission.submitted_at <= submitted_to)
    return conditions


# --- Reading runs -----------------------------------------------------------------------------------


def get_run(session: orm.Session, run_id: int, *, light: bool = False) -> BacktestRun:
    """Return a dry run or raise TuningNotFound; ``light`` leaves its result and files unread until used."""
    run = session.get(BacktestRun, run_id, options=LIGHT if light else ())
    if run is None:
        raise TuningNotFound(f"There is no dry run number {run_id}.")
    return run


def recent_runs(session: orm.Session, limit: int = 20, *, draft_id: int | None = None) -> list[BacktestRun]:
    """Return the newest dry runs first (only those of one draft, when ``draft_id`` is given), result and files unread."""
    query = (
        sa.select(BacktestRun)
        .options(*LIGHT)
        .order_by(BacktestRun.created_at.desc(), BacktestRun.id.desc())
        .limit(limit)
    )
    if draft_id is not None:
        query = query.where(BacktestRun.draft_id == draft_id)
    return list(session.scalars(query))


# --- Results ----------------------------------------------------------------------------------------


def store_result(session: orm.Session, run: BacktestRun, comparison: Comparison) -> None:
    """Store a run's comparison: its counts in ``run.result``, its changes as rows in order (any older ones go)."""
    session.execute(sa.delete(BacktestChange).where(BacktestChange.run_id == run.id))
    summary = comparison.as_dict()
    changes = summary.pop("changes")
    rows = [{"run_id": run.id, "position": position, "change": change} for position, change in enumerate(changes)]
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(sa.insert(BacktestChange), rows[start : start + _INSERT_BATCH])
    run.result = {**summary, CHANGES_KEPT: len(rows)}


def stored_counts(run: BacktestRun) -> tuple[Comparison, int] | None:
    """Return a finished run's comparison without its changes, and how many changes are stored; None before."""
    if run.status != DONE or run.result is None:
        return None
    result = dict(run.result)
    return Comparison.from_dict({**result, "changes": ()}), int(result.get(CHANGES_KEPT, 0))


def stored_changes(session: orm.Session, run_id: int, positions: slice | None = None) -> tuple[Change, ...]:
    """Return a run's stored changes in order: all, or those at ``positions`` (a slice of non-negative bounds)."""
    query = sa.select(BacktestChange.change).where(BacktestChange.run_id == run_id)
    if positions is not None:
        start = positions.start or 0
        query = query.where(BacktestChange.position >= start)
        if positions.stop is not None:
            query = query.where(BacktestChange.position < positions.stop)
    found = session.scalars(query.order_by(BacktestChange.position))
    return tuple(Change.from_dict(change) for change in found)


def stored_comparison(session: orm.Session, run: BacktestRun) -> Comparison | None:
    """Return a finished run's whole comparison, changes included; None while it is not done."""
    counted = stored_counts(run)
    if counted is None:
        return None
    comparison, _ = counted
    return replace(comparison, changes=stored_changes(session, run.id))


def is_stalled(run: BacktestRun, now: datetime) -> bool:
    """Return True when a queued or running dry run has not moved for STALLED_AFTER (it was interrupted)."""
    if run.status not in (QUEUED, RUNNING):
        return False
    moved = run.progress_at or run.started_at or run.created_at
    return now - moved >= STALLED_AFTER
