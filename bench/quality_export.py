"""Time of the quality-review CSV export (``flask export csv``) over many seeded submissions, and its peak memory.

Run by hand: ``.venv/bin/python bench/quality_export.py [COUNT ...]`` (default: 10000), on a fresh SQLite database
in a temporary folder, or ``--database-url postgresql+psycopg://...`` for an empty PostgreSQL database
(``scripts/with-postgres.sh`` starts a throwaway one and exports its URL as ``SCREENING_TEST_POSTGRES_URL``; the
bench empties it before each count). For each COUNT it seeds COUNT fake submissions scored and decided by the
shipped rules, as ``flask seed`` does (``review.seed.seed_submissions``, spread over its 90 days), then runs the
command over all of them ``--runs`` times (default 3) through Click's test runner, writing a file: it prints the
median time of the whole command (audit row, query, CSV, file), the rows and bytes written, a SHA-256 of the file
(the same data gives the same digest), and the peak of Python allocations during one more run (tracemalloc, which
slows that run, so it is not timed).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from audit_export import add_database_arguments
from audit_export import database_url
from audit_export import make_app
from screening.active_rules import require_ruleset
from screening.db import engine_for
from screening.db import new_session
from screening.review.seed import SPREAD_DAYS
from screening.review.seed import seed_submissions

SEED = 20261203


def seed(app: Flask, count: int, now: datetime) -> float:
    """Add ``count`` fake submissions decided by the active rules; return the seconds it took.

    On PostgreSQL the tables are analyzed afterwards, as autovacuum does soon after a bulk insert on a live server:
    the planner of a table just filled, without statistics, takes it for a dozen rows and joins by nested loops.
    """
    started = time.perf_counter()
    with new_session(app) as session:
        seed_submissions(session, count, seed=SEED, now=now, ruleset=require_ruleset(app))
        session.commit()
    if engine_for(app).dialect.name == "postgresql":
        with engine_for(app).begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    return time.perf_counter() - started


def export(app: Flask, out: Path, now: datetime) -> float:
    """Run ``export csv`` over every seeded day into ``out``; return the seconds it took."""
    first = (now - timedelta(days=SPREAD_DAYS + 1)).date().isoformat()
    args = ["export", "csv", "--from", first, "--to", now.date().isoformat(), str(out)]
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=args)
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    return seconds


def peak_memory(app: Flask, out: Path, now: datetime) -> int:
    """Return the peak of Python allocations, in bytes, during one export."""
    tracemalloc.start()
    try:
        export(app, out, now)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(count: int, runs: int, database_url: str | None) -> None:
    """Benchmark the export with ``count`` submissions."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as folder:
        app = make_app(Path(folder), database_url)
        seconds = seed(app, count, now)
        out = Path(folder) / "quality.csv"
        times = [export(app, out, now) for _ in range(runs)]
        body = out.read_bytes()
        peak = peak_memory(app, out, now)
        rows = body.count(b"\r\n") - 1
        print(f"{count} submissions on {engine_for(app).dialect.name} (seeded in {seconds:.1f} s)")
        print(
            f"  export csv  median {statistics.median(times):7.2f} s of {runs} ({', '.join(f'{t:.2f}' for t in times)})"
        )
        print(f"  {rows} rows, {len(body):,} bytes, sha256 {hashlib.sha256(body).hexdigest()}")
        print(f"  peak Python allocations during one export {peak / 2**20:6.1f} MiB")
        engine_for(app).dispose()


def main() -> None:
    """Parse the arguments and run the benchmark for each count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[10_000])
    parser.add_argument("--runs", type=int, default=3, help="exports timed per count")
    add_database_arguments(parser)
    args = parser.parse_args()
    for count in args.counts:
        run(count, args.runs, database_url(args))


if __name__ == "__main__":
    main()
