"""Running dry runs (backtests) of a rule set against stored submissions: queued, run in chunks, stored.

A run copies the candidate's files and names the stored version it is compared with. The task
evaluates the submissions in chunks of consecutive ids, in worker processes, and commits the
progress after every chunk, so a page can show how far it is and a user can leave and come back.
The rule text is untrusted: it is evaluated only in those workers, bounded children of
``engine.bounded_pool`` within the limits of ``engine.budget`` (time per submission, memory, and
``RULES_DRY_RUN_SECONDS`` for the whole run); a run that goes over fails with a message naming the
rule, and the task's thread only waits.
The result holds counts, transitions and the changed submissions' references, rules and facts:
never answers or notes (``engine.dry_run_comparison``); the changes are stored one row each
(``dry_run_store.store_result``). ``dry_run_store`` starts, lists and reads runs;
staff and admins start them (DRY_RUN_ROLES); the fact values of individual patients are shown to clinical
roles only (FACT_ROLES, ``dry_run_reports.report`` leaves them out for the others).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from time import monotonic
from typing import Callable

import sqlalchemy as sa
from flask import Flask
from huey import Huey
from sqlalchemy import orm

from ..db import engine_for
from ..db import make_engine
from ..db import new_session
from ..models import BacktestRun
from ..models import RuleSetVersion
from ..models import Submission
from ..engine import bounded_child
from ..engine import bounded_pool
from ..engine import budget
from ..engine.dry_run import Backtest
from ..engine.dry_run import StoredRow
from ..engine.dry_run_comparison import Comparison
from ..engine.loader import Sources
from ..engine.loader import load_ruleset
from ..engine.model import RuleSet
from ..active_rules.registry import RulesUnavailable
from ..active_rules.registry import checked_ruleset
from ..queues import QUEUE_NAME
from ..queues import add_tasks
from ..queues import huey_for
from .dry_run_store import DONE
from .dry_run_store import FAILED
from .dry_run_store import QUEUED
from .dry_run_store import RUNNING
from .dry_run_store import get_run
from .dry_run_store import in_range
from .dry_run_store import is_stalled
from .dry_run_store import store_result

log = logging.getLogger(__name__)

RUN_TASK = "screening.tuning.dry_runs.run"
#: Submissions evaluated per chunk; progress is committed after each (BACKTEST_CHUNK_SIZE overrides).
CHUNK_SIZE = 2000
#: Several worker processes start only for at least this many submissions (BACKTEST_PARALLEL_FROM overrides);
#: below it one bounded worker evaluates the run. Measured with ``bench/backtest.py --keep`` on the 2-core box
#: (December 2026, conditions compiled to Python): 100,000 submissions took 7.0-8.9 s with two workers and
#: 9.2-9.7 s with one, so a second worker saves about a fifth there; its fixed cost (a process from the
#: forkserver that loads both rule sets, plus its memory) is not repaid on small runs, where starting and
#: checking take most of the time. Reading and decoding the stored answers is now most of a worker's time.
PARALLEL_FROM = 20_000
MAX_ERROR_LINES = 50
MAX_ERROR_LENGTH = 4000
Progress = Callable[[int, int], None]
Bounds = tuple[int, int]
#: What a worker is given: the ids of a chunk, or its rows when the worker cannot open the database.
Work = Bounds | list[StoredRow]

bounded_pool.preload(__name__)  # the workers' module, imported once in the server they start from


# --- The task ---------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Register the dry-run task on the work queue."""
    add_tasks(app, QUEUE_NAME, register_tasks)


def register_tasks(huey: Huey, app: Flask) -> None:
    """Register the dry run task on ``huey``, bound to ``app``; a run records its own failure, so no retries."""

    @huey.task()
    def run_backtest_task(run_id: int) -> None:
        """Run one stored dry run."""
        run_backtest(app, run_id)

    app.extensions[RUN_TASK] = run_backtest_task


def enqueue_backtest(app: Flask, run_id: int) -> None:
    """Hand a stored run to the task queue (in immediate mode, as in tests: run it now)."""
    huey_for(app)
    app.extensions[RUN_TASK](run_id)


# --- Running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """What every worker needs to evaluate chunks of one run (no database when it is given the rows)."""

    database_url: str | None
    candidate_sources: Sources
    against_sources: Sources
    submitted_from: datetime | None
    submitted_to: datetime | None


class _Rulesets(Exception):
    """A rule set of the run does not load; the message lists every problem."""


def run_backtest(app: Flask, run_id: int, *, progress: Progress | None = None) -> BacktestRun:
    """Run a queued (or stalled) dry run and return it, done or failed; never raises for bad rules or data.

    A run that is done, failed or running elsewhere is returned as it is; an unknown id raises
    TuningNotFound. ``progress(processed, total)`` is called after every chunk, once committed.
    """
    started = monotonic()
    limits = budget.Budget.from_config(app.config)
    with new_session(app) as session:
        run = get_run(session, run_id)
        if not _claim(session, run, _now()):
            return run
        try:
            candidate, against, against_sources = _load_rulesets(session, run)
            chunks = _chunks(session, run, _chunk_size(app))
            job = _Job(
                str(app.config["DATABASE_URL"]),
                dict(run.candidate_sources),
                against_sources,
                run.submitted_from,
                run.submitted_to,
            )
            comparison = Backtest(candidate, against).empty()

            def record(part: Comparison) -> None:
                nonlocal comparison
                comparison = comparison.merge(part)
                run.processed = comparison.total
                run.progress_at = _now()
                session.commit()
                if progress is not None:
                    progress(run.processed, run.total)

            processes = backtest_processes(app) if run.total >= _parallel_from(app) else 1
            _evaluate(app, job, chunks, processes, record, limits=limits, started=started)
            _finish(session, run, comparison)
        except _Rulesets as problem:
            _fail(session, run, str(problem))
        except budget.Exceeded as exceeded:
            session.rollback()
            _fail(session, run, f"The dry run was stopped: {exceeded}")
        except Exception as error:  # noqa: BLE001 - the page shows a short message; the log has the rest
            log.exception("dry run %s failed", run_id)
            session.rollback()
            _fail(session, run, f"The dry run stopped unexpectedly ({type(error).__name__}); see the server log.")
        return run


def _claim(session: orm.Session, run: BacktestRun, now: datetime) -> bool:
    """Mark a queued or stalled run as running, unless another worker claimed it first."""
    if run.status not in (QUEUED, RUNNING) or (run.status == RUNNING and not is_stalled(run, now)):
        return False
    claimed = session.execute(
        sa.update(BacktestRun)
        .where(BacktestRun.id == run.id, BacktestRun.status == run.status)
        .where(
            BacktestRun.progress_at.is_(None) if run.progress_at is None else BacktestRun.progress_at == run.progress_at
        )
        .values(status=RUNNING, started_at=now, progress_at=now, processed=0, error=None, result=None)
    )
    session.commit()
    session.refresh(run)
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _load_rulesets(session: orm.Session, run: BacktestRun) -> tuple[RuleSet, RuleSet, Sources]:
    """Load (and test) both rule sets of a run, or raise _Rulesets with every problem."""
    stored = session.get(RuleSetVersion, run.against_version_id)
    if stored is None:
        raise _Rulesets("The version to compare with is no longer stored.")
    against_sources = dict(stored.sources)
    try:
        candidate = checked_ruleset(dict(run.candidate_sources), prefix="")
    except RulesUnavailable as unavailable:
        raise _Rulesets(_problems("The candidate rule set does not load:", unavailable.errors)) from None
    try:
        against = checked_ruleset(against_sources, prefix="")
    except RulesUnavailable as unavailable:
        heading = f"The version it is compared with ({stored.version}) does not load:"
        raise _Rulesets(_problems(heading, unavailable.errors)) from None
    return candidate, against, against_sources


def _problems(heading: str, errors: list[str]) -> str:
    """Return a heading and the loader's messages, short enough to store and show."""
    lines = errors[:MAX_ERROR_LINES]
    if len(errors) > len(lines):
        lines.append(f"... and {len(errors) - len(lines)} more")
    return "\n".join([heading, *lines])[:MAX_ERROR_LENGTH]


def _chunks(session: orm.Session, run: BacktestRun, size: int) -> list[Bounds]:
    """Return (first id, last id) of consecutive chunks of the submissions in range; set the run's total."""
    ids = session.scalars(
        sa.select(Submission.id).where(*in_range(run.submitted_from, run.submitted_to)).order_by(Submission.id)
    ).all()
    run.total = len(ids)
    session.commit()
    return [(ids[start], ids[min(start + size, len(ids)) - 1]) for start in range(0, len(ids), size)]


def _evaluate(
    app: Flask,
    job: _Job,
    chunks: list[Bounds],
    processes: int,
    record: Callable[[Comparison], None],
    *,
    limits: budget.Budget,
    started: float,
) -> None:
    """Evaluate every chunk in bounded worker processes (never in this one), recording each in id order.

    Raise budget.Exceeded, naming the rule, when a submission or the whole run (which began at the
    ``started`` reading of ``time.monotonic``) goes over the budget.
    Workers read their chunks from the database; one in memory (tests) is read here and the rows sent.
    """
    if not chunks:
        return
    items: Iterable[Work] = chunks
    if job.database_url is None or _in_memory(job.database_url):
        reader = _ChunkRunner(engine_for(app), None, job.submitted_from, job.submitted_to)
        items = (reader.rows(chunk) for chunk in chunks)
        job = dataclasses.replace(job, database_url=None)
    with bounded_pool.BoundedPool(
        min(processes, len(chunks)),
        seconds=limits.dry_run_seconds,
        started=started,
        doing="the dry run",
        budget=limits,
        initializer=_start_worker,
        initargs=(job,),
    ) as pool:
        for part in pool.map(_run_chunk, items):
            record(part)


def backtest_processes(app: Flask) -> int:
    """Return how many worker processes a dry run uses (BACKTEST_PROCESSES, default: one per CPU)."""
    return max(1, int(app.config.get("BACKTEST_PROCESSES") or os.cpu_count() or 1))


def _parallel_from(app: Flask) -> int:
    """Return the number of submissions from which worker processes are used (BACKTEST_PARALLEL_FROM)."""
    setting = app.config.get("BACKTEST_PARALLEL_FROM")
    return PARALLEL_FROM if setting is None else int(setting)


def _chunk_size(app: Flask) -> int:
    """Return the number of submissions per chunk (BACKTEST_CHUNK_SIZE, default CHUNK_SIZE)."""
    return max(1, int(app.config.get("BACKTEST_CHUNK_SIZE") or CHUNK_SIZE))


def _in_memory(url: str) -> bool:
    """Return True for an in-memory SQLite database, which other processes cannot open."""
    return url.startswith("sqlite") and (url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:") or ":memory:" in url)


class _ChunkRunner:
    """Reads the stored submissions of one chunk (plain columns, no ORM objects) and compares them.

    Each submission is one timed evaluation of the worker's budget.
    """

    def __init__(
        self,
        engine: sa.Engine | None,
        backtest: Backtest | None,
        submitted_from: datetime | None,
        submitted_to: datetime | None,
    ) -> None:
        self.engine = engine
        self.backtest = backtest
        self.range = in_range(submitted_from, submitted_to)

    def _query(self, bounds: Bounds) -> sa.Select[tuple[str, datetime, dict[str, object], dict[str, object]]]:
        """Return the query of the submissions with ids from ``bounds[0]`` to ``bounds[1]``."""
        return (
            sa.select(
                Submission.reference,
                Submission.submitted_at,
                Submission.answers,
                Submission.scores,
                Submission.context_facts,
            )
            .where(Submission.id.between(bounds[0], bounds[1]), *self.range)
            .order_by(Submission.id)
        )

    def rows(self, bounds: Bounds) -> list[StoredRow]:
        """Return the rows of one chunk, to send to a worker."""
        assert self.engine is not None
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(self._query(bounds))]  # type: ignore[misc]

    def run(self, work: Work) -> Comparison:
        """Return the comparison of one chunk: its rows, or the ids to read them by."""
        assert self.backtest is not None
        if isinstance(work, list):
            return self.backtest.compare(bounded_child.watch().each(work))
        assert self.engine is not None
        with self.engine.connect() as connection:
            rows = connection.execute(self._query(work))
            return self.backtest.compare(bounded_child.watch().each(rows))  # type: ignore[arg-type]


_worker: _ChunkRunner | None = None
_worker_error: str | None = None


def _start_worker(job: _Job) -> None:
    """Set up one worker process: its own engine, and both rule sets loaded once from their sources, watched.

    Never raises: a worker whose start failed would break the whole pool without a reason, so the
    failure is kept and reported by the first chunk instead.
    """
    global _worker, _worker_error
    try:
        engine = None
        if job.database_url is not None:
            engine = make_engine(job.database_url)
            multiprocessing.util.Finalize(None, engine.dispose, exitpriority=10)
        candidate = bounded_child.watched(load_ruleset(job.candidate_sources))
        against = bounded_child.watched(load_ruleset(job.against_sources))
        _worker = _ChunkRunner(engine, Backtest(candidate, against), job.submitted_from, job.submitted_to)
    except Exception as error:  # noqa: BLE001 - reported through _run_chunk
        _worker_error = type(error).__name__


def _run_chunk(work: Work) -> Comparison:
    """Compare one chunk in a worker process."""
    if _worker is None:
        raise RuntimeError(f"the dry run worker could not start ({_worker_error or 'not started'})")
    return _worker.run(work)


def _finish(session: orm.Session, run: BacktestRun, comparison: Comparison) -> None:
    """Store the result of a run that went through."""
    now = _now()
    store_result(session, run, comparison)
    run.processed = run.total = comparison.total
    run.status = DONE
    run.progress_at = run.finished_at = now
    session.commit()
    log.info("dry run %s done: %d submissions, %d would change", run.id, comparison.total, comparison.changed_total)


def _fail(session: orm.Session, run: BacktestRun, message: str) -> None:
    """Record why a run failed."""
    session.refresh(run)
    run.status = FAILED
    run.error = message[:MAX_ERROR_LENGTH]
    run.finished_at = _now()
    session.commit()
    log.warning("dry run %s failed", run.id)


def _now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)
