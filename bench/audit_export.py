"""Time to first byte, total time and peak memory of the audit trail's CSV export (/admin/audit.csv).

Run by hand: ``.venv/bin/python bench/audit_export.py [COUNT ...]`` (default: 1000 100000), on a fresh
SQLite database in a temporary folder, or ``--database-url postgresql+psycopg://...`` for an empty
PostgreSQL database (``scripts/with-postgres.sh`` starts a throwaway one and exports its URL as
``SCREENING_TEST_POSTGRES_URL``; the bench empties it before each count). For each COUNT it adds
COUNT audit events of the shapes the app records (one insert per batch, not through the app), signs
an admin in through the Flask test client and downloads the export ``--requests`` times (default 3),
reading the streamed body chunk by chunk: it prints the median time to the first chunk and to the
last, the size, a SHA-256 of the body (the same data gives the same digest, so two versions of the
code can be compared byte for byte), and the peak of Python allocations during one more download
(tracemalloc, which slows that download, so it is not timed). Requests go through the whole app
(guard, session, audit row, query, CSV) but not a network socket.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from screening import create_app
from screening import migrate
from screening import passwords
from screening.admin.audit_log import KNOWN_ACTIONS
from screening.db import engine_for
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import Model
from screening.models import User

PASSWORD = "bench-Sextant-42-ferry"
EMAIL = "bench-admin@clinic.test"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Every bench event is older than this day, so the export leaves out the bench's own sign-in and downloads.
EXPORT_URL = "/admin/audit.csv?to=2025-12-31"
START = datetime(2025, 1, 1, tzinfo=UTC)
INSERT_BATCH = 5000


def make_app(folder: Path, database_url: str | None) -> Flask:
    """Return an app on a migrated database: ``database_url`` emptied first, else SQLite in ``folder``."""
    url = database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    if database_url:
        engine = sa.create_engine(database_url)
        with engine.begin() as connection:
            Model.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    migrate.upgrade(url)
    return create_app(
        {"SECRET_KEY": "bench-secret", "DATABASE_URL": url, "HUEY_URL": f"sqlite:///{folder / 'huey.sqlite3'}"}
    )


def event_row(n: int) -> dict[str, object]:
    """Return the ``n``th bench event: a deterministic mix of the app's actions, actors and details."""
    action = KNOWN_ACTIONS[n % len(KNOWN_ACTIONS)]
    return {
        "at": START + timedelta(seconds=n * 2.5, microseconds=n % 1000),
        "actor": ("patient", "cli", f"user:{n % 7 + 1}")[n % 3],
        "action": action,
        "subject_type": "submission" if action.startswith(("review", "submission")) else "user",
        "subject_id": n // 3 if n % 5 else None,
        "remote_addr": f"203.0.113.{n % 250}" if n % 4 else None,
        "details": {"review_action_id": n, "row_version": n % 9, "decision": "consult", "note_for_patient": False}
        if action == "review.decided"
        else ({"rows": n % 50, "first_page": True} if n % 2 else {}),
    }


def seed(app: Flask, count: int) -> float:
    """Add the admin and ``count`` events; return the seconds it took."""
    started = time.perf_counter()
    with new_session(app) as session:
        session.add(User(email=EMAIL, password_hash=passwords.hash_password(PASSWORD), role="admin", created_at=START))
        for first in range(0, count, INSERT_BATCH):
            rows = [event_row(n) for n in range(first, min(count, first + INSERT_BATCH))]
            session.execute(sa.insert(AuditEvent), rows)
        session.commit()
    return time.perf_counter() - started


def sign_in(client: FlaskClient) -> None:
    """Sign the client in as the bench admin through the real sign-in page."""
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token is not None, "no CSRF token on the sign-in page"
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 302, response.status_code


def download(client: FlaskClient) -> tuple[float, float, int, str]:
    """Download the export chunk by chunk; return seconds to the first chunk and to the end, bytes, digest."""
    digest, size = hashlib.sha256(), 0
    started = time.perf_counter()
    response = client.get(EXPORT_URL, buffered=False)
    assert response.status_code == 200, response.status_code
    first = None
    for chunk in response.iter_encoded():
        if first is None:
            first = time.perf_counter() - started
        digest.update(chunk)
        size += len(chunk)
    response.close()
    return first or 0.0, time.perf_counter() - started, size, digest.hexdigest()


def peak_memory(client: FlaskClient) -> int:
    """Return the peak of Python allocations, in bytes, during one download."""
    tracemalloc.start()
    try:
        download(client)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class Export:
    """What downloading the export measured: medians in seconds, the body's size and digest, the peak memory."""

    first_byte: float
    whole_body: float
    size: int
    digest: str
    peak_bytes: int


def seeded_client(folder: Path, database_url: str | None, count: int) -> tuple[FlaskClient, float]:
    """Return an admin's client of an app with ``count`` events (see ``make_app``) and the seconds seeding took."""
    app = make_app(folder, database_url)
    seconds = seed(app, count)
    client = app.test_client()
    sign_in(client)
    return client, seconds


def measure(client: FlaskClient, requests: int) -> Export:
    """Download the export ``requests`` times, then once more for its memory; the same data must give one body."""
    results = [download(client) for _ in range(requests)]
    sizes = {size for _first, _total, size, _digest in results}
    digests = {digest for *_rest, digest in results}
    assert len(sizes) == 1 and len(digests) == 1, "the same data gave different exports"
    return Export(
        first_byte=statistics.median(r[0] for r in results),
        whole_body=statistics.median(r[1] for r in results),
        size=sizes.pop(),
        digest=digests.pop(),
        peak_bytes=peak_memory(client),
    )


def run(count: int, requests: int, database_url: str | None) -> None:
    """Benchmark the export with ``count`` events."""
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        client, seconds = seeded_client(Path(folder), database_url, count)
        found = measure(client, requests)
        app = client.application
        backend = engine_for(app).dialect.name
        print(f"{count} audit events on {backend} (inserted in {seconds:.1f} s), {found.size:,} bytes")
        print(f"  first byte  median {found.first_byte * 1000:8.1f} ms")
        print(f"  whole body  median {found.whole_body * 1000:8.1f} ms")
        print(f"  peak Python allocations during one download {found.peak_bytes / 2**20:6.1f} MiB")
        print(f"  sha256 {found.digest}")
        engine_for(app).dispose()


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --database-url (default: the throwaway server of scripts/with-postgres.sh, if any) and --sqlite."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCREENING_TEST_POSTGRES_URL"),
        help="an empty PostgreSQL database to use instead of SQLite (emptied first)",
    )
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even when a PostgreSQL URL is set")


def database_url(args: argparse.Namespace) -> str | None:
    """Return the PostgreSQL database the arguments name, None for SQLite."""
    return None if args.sqlite else args.database_url


def main() -> None:
    """Parse the arguments and run the benchmark for each count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 100_000])
    parser.add_argument("--requests", type=int, default=3, help="downloads timed per count")
    add_database_arguments(parser)
    args = parser.parse_args()
    for count in args.counts:
        run(count, args.requests, database_url(args))


if __name__ == "__main__":
    main()
