"""Time of a dry run (backtest) of a rule change against many stored submissions.

Run by hand: ``.venv/bin/python bench/backtest.py [COUNT] [--rounds N] [--processes P] [--keep DIR]``
(default: 100000 submissions, 3 rounds, BACKTEST_PROCESSES unset; ``--keep`` seeds once into DIR and
reuses it, so that settings and versions are compared on the same submissions). It seeds
COUNT fake submissions, decided by the shipped rules, into a fresh SQLite database in a temporary
folder, then times ``run_backtest`` of a candidate that is the shipped rules with the fibromyalgia-alone
outcome changed from counseling to not_candidate, against the active (shipped) version, once per round.
It prints the seconds and submissions per second of every round, and the counts of the last.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from screening import create_app
from screening import migrate
from screening.db import new_session
from screening.models import Submission
from screening.review.seed import seed_submissions
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.engine.loader import Sources
from screening.engine.loader import read_sources
from screening.tuning import dry_run_reports
from screening.tuning import dry_run_store
from screening.tuning import dry_runs

RULES = Path(__file__).resolve().parent.parent / "rules"
FIBROMYALGIA = "fibromyalgia.yaml"


def make_app(
    folder: Path, processes: int | None, url: str | None = None, options: argparse.Namespace | None = None
) -> Flask:
    """Return an app on the migrated database ``url`` (default: a SQLite file in ``folder``)."""
    url = url or f"sqlite:///{folder / 'bench.sqlite3'}"
    migrate.upgrade(url)
    config: dict[str, Any] = {
        "SECRET_KEY": "bench-secret",
        "DATABASE_URL": url,
        "HUEY_URL": f"sqlite:///{folder / 'huey.sqlite3'}",
    }
    if processes is not None:
        config["BACKTEST_PROCESSES"] = processes
    if options is not None and options.parallel_from is not None:
        config["BACKTEST_PARALLEL_FROM"] = options.parallel_from
    if options is not None and options.evaluation_ms is not None:
        config["RULES_EVALUATION_MS"] = options.evaluation_ms
    return create_app(config)


def stored_count(app: Flask) -> int:
    """Return how many submissions the database holds."""
    with new_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Submission)) or 0)


def candidate_sources() -> Sources:
    """Return the shipped rules with fibromyalgia alone moved from counseling to not_candidate (tests too)."""
    sources = read_sources(RULES)
    sources[FIBROMYALGIA] = sources[FIBROMYALGIA].replace("outcome: counseling", "outcome: not_candidate")
    return sources


def seed(app: Flask, count: int) -> float:
    """Seed ``count`` submissions decided by the shipped rules; return the seconds it took."""
    started = time.perf_counter()
    ruleset = require_ruleset(app)
    with new_session(app) as session:
        seed_submissions(session, count, seed=20261130, now=datetime.now(UTC), ruleset=ruleset)
        session.commit()
    return time.perf_counter() - started


def time_backtest(app: Flask, sources: Sources) -> tuple[float, dry_run_reports.Report]:
    """Store a dry run of ``sources`` against the active version, run it, and return the seconds and report."""
    with new_session(app) as session:
        current = store.active(session)
        assert current is not None
        run = dry_run_store.start_backtest(
            session, candidate_sources=sources, against=current.version, actor="cli", now=datetime.now(UTC)
        )
        session.commit()
        run_id = run.id
    started = time.perf_counter()
    finished = dry_runs.run_backtest(app, run_id)
    seconds = time.perf_counter() - started
    with new_session(app) as session:
        found = dry_run_reports.report(session, finished)
    if found is None:
        raise SystemExit(f"the dry run failed: {finished.error}")
    return seconds, found


def main() -> None:
    """Seed, then time the dry run ``--rounds`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=None, help="BACKTEST_PROCESSES (default: CPUs)")
    parser.add_argument("--parallel-from", type=int, default=None, help="BACKTEST_PARALLEL_FROM")
    parser.add_argument("--evaluation-ms", type=int, default=None, help="RULES_EVALUATION_MS (a loaded machine)")
    parser.add_argument("--keep", type=Path, default=None, help="a folder to keep the seeded database in, and reuse")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = options.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        app = make_app(folder, options.processes, options=options)
        if stored_count(app) != options.count:
            if stored_count(app):
                raise SystemExit(f"{folder} holds another number of submissions")
            print(f"seeding {options.count} submissions ...", flush=True)
            print(f"seeded in {seed(app, options.count):.1f} s", flush=True)
        chosen = getattr(dry_runs, "worker_processes", None)  # absent from versions before it was measured
        processes = chosen(app, options.count) if chosen else dry_runs.backtest_processes(app)
        print(f"worker processes: {processes}", flush=True)
        sources = candidate_sources()
        times = []
        found = None
        for round_number in range(1, options.rounds + 1):
            seconds, found = time_backtest(app, sources)
            times.append(seconds)
            print(
                f"round {round_number}: {found.total} submissions in {seconds:.2f} s "
                f"({found.total / seconds:,.0f} submissions/s), {found.changed_total} would change",
                flush=True,
            )
        assert found is not None
        print(f"median: {statistics.median(times):.2f} s, best: {min(times):.2f} s")
        for row in found.outcomes:
            print(f"  {row.outcome:<24} {row.before:>7} -> {row.after:>7}  ({row.difference:+d})")


if __name__ == "__main__":
    main()
