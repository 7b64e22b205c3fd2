"""Latency of the physicians' queue page (/review/) with many submissions, most of them decided.

Run by hand: ``.venv/bin/python bench/queue_latency.py [COUNT ...]`` (default: 1000 100000).
For each COUNT: a fresh SQLite database in a temporary folder, migrated; COUNT fake submissions
seeded and decided by the shipped rules; the oldest ``--decided`` share of them (default 90 %)
marked decided by a physician (as a clinic that keeps up with its queue would have them), a few
more claimed; then a physician signs in through the Flask test client and the bench times,
``--requests`` times each (default 50), GET /review/ (first page), a deep page reached by following
the "Next page" links, and a filtered page. It prints the median and 95th percentile of each.
Requests go through the whole app (guard, session, queries, templates) but not a network socket.
``--keep FOLDER`` seeds into ``FOLDER/COUNT/`` once and reuses that database on later runs (migrated
to the code's schema first), so two versions of the code can be timed on the same data.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC
from datetime import datetime
from html import unescape
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from screening import create_app
from screening import migrate
from screening import passwords
from screening.db import engine_for
from screening.db import new_session
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.review.seed import seed_submissions
from screening.active_rules import require_ruleset

PASSWORD = "bench-Sextant-42-ferry"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
FILTERED = "/review/?outcome=contraindication_review&status=open"
#: Follow at most this many "Next page" links to find the deep page.
MAX_DEPTH = 200
#: Share of the submissions still open that are claimed by the physician.
CLAIMED_SHARE = 0.1


def make_app(folder: Path, url: str | None = None) -> Flask:
    """Return an app on the migrated database ``url`` (default: a SQLite file in ``folder``)."""
    url = url or f"sqlite:///{folder / 'bench.sqlite3'}"
    migrate.upgrade(url)
    return create_app(
        {"SECRET_KEY": "bench-secret", "DATABASE_URL": url, "HUEY_URL": f"sqlite:///{folder / 'huey.sqlite3'}"}
    )


def seed(app: Flask, count: int, decided_share: float) -> float:
    """Seed ``count`` submissions, decide the oldest share and claim some more; return the seconds it took."""
    started = time.perf_counter()
    now, ruleset = datetime.now(UTC), require_ruleset(app)
    with new_session(app) as session:
        physician = User(
            email="bench-physician@clinic.test",
            password_hash=passwords.hash_password(PASSWORD),
            role="physician",
            created_at=now,
        )
        session.add(physician)
        session.flush()
        seed_submissions(session, count, seed=42, now=now, ruleset=ruleset)
        decided = int(count * decided_share)
        oldest = sa.select(Submission.id).order_by(Submission.submitted_at).limit(decided).scalar_subquery()
        session.execute(
            sa.update(Submission).where(Submission.id.in_(oldest)).values(status="decided", assignee_id=physician.id)
        )
        claimed = int((count - decided) * CLAIMED_SHARE)
        newest_open = (
            sa.select(Submission.id)
            .where(Submission.status == "open")
            .order_by(Submission.submitted_at.desc())
            .limit(claimed)
            .scalar_subquery()
        )
        session.execute(
            sa.update(Submission)
            .where(Submission.id.in_(newest_open))
            .values(status="claimed", assignee_id=physician.id)
        )
        session.commit()
    return time.perf_counter() - started


def sign_in(client: FlaskClient) -> None:
    """Sign the client in as the bench physician through the real sign-in page."""
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token is not None, "no CSRF token on the sign-in page"
    data = {"email": "bench-physician@clinic.test", "password": PASSWORD, "csrf_token": token.group(1)}
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.status_code


def deep_page(client: FlaskClient) -> tuple[str, int]:
    """Follow "Next page" from the first page as far as MAX_DEPTH; return the page reached and its depth."""
    url, depth = "/review/", 1
    while depth < MAX_DEPTH:
        found = NEXT.search(client.get(url).get_data(as_text=True))
        if found is None:
            break
        url, depth = unescape(found.group(1)), depth + 1
    return url, depth


def timings(client: FlaskClient, url: str, requests: int) -> list[float]:
    """Return the milliseconds each of ``requests`` GETs of ``url`` took."""
    client.get(url)  # warm the caches once, as a physician's second visit would
    spent = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        spent.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return spent


def count_timings(app: Flask, requests: int) -> list[float]:
    """Return the milliseconds each of ``requests`` readings of both lists' outcome counts took."""
    spent = []
    with new_session(app) as session:
        for _ in range(requests + 1):
            started = time.perf_counter()
            service.outcome_counts(session, needs_action=True), service.outcome_counts(session, needs_action=False)
            spent.append((time.perf_counter() - started) * 1000)
    return spent[1:]


def describe(label: str, spent: list[float]) -> str:
    """Return one line: the median and 95th percentile of ``spent``."""
    p95 = statistics.quantiles(spent, n=20)[-1]
    return f"  {label:<40} median {statistics.median(spent):7.2f} ms   p95 {p95:7.2f} ms"


def run(count: int, decided_share: float, requests: int, keep: Path | None = None) -> None:
    """Benchmark the queue page with ``count`` submissions (seeded into ``keep`` once, when given)."""
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as scratch:
        folder = Path(scratch) if keep is None else keep / str(count)
        folder.mkdir(parents=True, exist_ok=True)
        seeded = (folder / "bench.sqlite3").exists()
        app = make_app(folder)
        seconds = 0.0 if seeded else seed(app, count, decided_share)
        with new_session(app) as session:
            statuses = {
                status: n
                for status, n in session.execute(
                    sa.select(Submission.status, sa.func.count()).group_by(Submission.status)
                )
            }
        client = app.test_client()
        sign_in(client)
        deep_url, depth = deep_page(client)
        print(f"{count} submissions (seeded in {seconds:.1f} s): {statuses}")
        print(describe("GET /review/ (first page)", timings(client, "/review/", requests)))
        print(describe(f"deep page (page {depth}, following cursors)", timings(client, deep_url, requests)))
        print(describe("filtered page (outcome and status)", timings(client, FILTERED, requests)))
        print(describe("the two outcome counts alone", count_timings(app, requests)))
        engine_for(app).dispose()


def main() -> None:
    """Parse the arguments and run the benchmark for each count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 100_000])
    parser.add_argument("--decided", type=float, default=0.9, help="share of submissions already decided")
    parser.add_argument("--requests", type=int, default=50, help="requests timed per page")
    parser.add_argument("--keep", type=Path, help="seed into this folder once and reuse the database there")
    args = parser.parse_args()
    for count in args.counts:
        run(count, args.decided, args.requests, args.keep)


if __name__ == "__main__":
    main()
