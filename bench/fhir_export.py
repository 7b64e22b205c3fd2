"""Time of the FHIR NDJSON export (``flask export fhir``) and the process's peak memory.

Run by hand: ``.venv/bin/python bench/fhir_export.py [COUNT ...]`` (default: 1000 10000), on a fresh SQLite
database in a temporary folder, or ``--database-url postgresql+psycopg://...`` for an empty PostgreSQL database
(``scripts/with-postgres.sh`` starts a throwaway one; the bench empties it before each count). For each COUNT it
seeds COUNT fake submissions (``review.seed``, not timed), then exports all of them with the service the command
calls, validating every resource with the R4B models as the command does, and prints the seconds, the
submissions per second, the size of each file and the peak resident memory of the process so far.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path

from audit_export import make_app  # run from bench/: the same fresh database

from screening.active_rules import require_ruleset
from screening.db import engine_for
from screening.db import new_session
from screening.fhir.service import export_ndjson
from screening.review.seed import seed_submissions

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FIRST, LAST = date(2026, 8, 1), date(2026, 12, 1)  # every day seeded (review.seed.SPREAD_DAYS before NOW)


def run(count: int, database_url: str | None) -> None:
    """Seed ``count`` submissions and time one export of them all."""
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder), database_url)
        with new_session(app) as session:
            seed_submissions(session, count, seed=1, now=NOW, ruleset=require_ruleset(app))
            session.commit()
        out = Path(folder) / "export"
        started = time.perf_counter()
        with new_session(app) as session:
            counts = export_ndjson(session, app.config, out, FIRST, LAST, with_contact=False, actor="cli", now=NOW)
            session.commit()
        elapsed = time.perf_counter() - started
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir()))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{count} submissions: {counts.submissions} exported in {elapsed:.1f} s "
            f"({counts.submissions / elapsed:.0f}/s); {sizes}; peak RSS {peak:.0f} MB"
        )
        engine_for(app).dispose()


def main() -> None:
    """Parse the arguments and run each count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    for count in arguments.counts:
        run(count, arguments.database_url)


if __name__ == "__main__":
    main()
