"""Time of the rule-tuning pages that list and show dry runs, with many stored submissions and dry runs.

Run by hand: ``.venv/bin/python bench/tuning_pages.py [COUNT] [--runs N] [--repeat R] [--database PATH]``
(default: 100000 submissions, 10 dry runs, 20 requests per page). It seeds COUNT fake submissions into a
SQLite database (a temporary one, or PATH, which is kept and reused: it is migrated, and seeded and
given dry runs only up to what it lacks), stores a draft with the fibromyalgia-alone outcome moved
(``bench/backtest.py``), runs dry runs of it until it has N, signs an admin in with the Flask test
client, and prints the median and best milliseconds of each page: the rules home (which lists the dry
runs), the draft page, a dry run's result (first and a later page of changes) and its progress JSON.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from screening import passwords
from screening.db import new_session
from screening.models import BacktestRun
from screening.models import RuleDraft
from screening.models import Submission
from screening.models import User
from screening.active_rules import store
from screening.engine import budget
from screening.tuning import drafts
from screening.tuning import dry_run_store
from screening.tuning import dry_runs

from backtest import FIBROMYALGIA
from backtest import candidate_sources
from backtest import make_app
from backtest import seed

EMAIL = "bench-admin@clinic.test"
PASSWORD = "plum-Sextant-42-ferry"
TITLE = "Bench: fibromyalgia alone gets not_candidate"


def stored_count(app: Flask) -> int:
    """Return the number of stored submissions."""
    with new_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Submission)) or 0)


def admin(app: Flask) -> User:
    """Return the bench's admin, created the first time."""
    with new_session(app) as session:
        user = session.scalar(sa.select(User).where(User.email == EMAIL))
        if user is None:
            user = User(
                email=EMAIL,
                password_hash=passwords.hash_password(PASSWORD),
                role="admin",
                disabled=False,
                created_at=datetime.now(UTC),
                session_version=1,
                failed_logins=0,
            )
            session.add(user)
            session.commit()
        session.expunge(user)
        return user


def bench_draft(app: Flask, author: User) -> int:
    """Return the id of the bench's draft (moving fibromyalgia alone), created the first time."""
    with new_session(app) as session:
        found = session.scalar(sa.select(RuleDraft.id).where(RuleDraft.title == TITLE))
        if found is not None:
            return int(found)
        user = session.get(User, author.id)
        assert user is not None
        now = datetime.now(UTC)
        draft = drafts.start_draft(session, title=TITLE, user=user, now=now)
        text = draft.sources[FIBROMYALGIA]
        moved = candidate_sources()[FIBROMYALGIA]
        digest = drafts.digest(text)
        drafts.save_file(session, draft, name=FIBROMYALGIA, text=moved, started_from=digest, user=user, now=now)
        session.commit()
        return draft.id


def ensure_runs(app: Flask, draft_id: int, wanted: int, log: Callable[[str], object] = print) -> int:
    """Run dry runs of the draft until it has ``wanted`` finished ones; return the newest one's id.

    Each run's time goes to ``log``."""
    while True:
        with new_session(app) as session:
            done = session.scalars(
                sa.select(BacktestRun.id)
                .where(BacktestRun.draft_id == draft_id, BacktestRun.status == dry_run_store.DONE)
                .order_by(BacktestRun.id.desc())
            ).all()
            if len(done) >= wanted:
                return int(done[0])
            draft = drafts.get_draft(session, draft_id)
            current = store.active(session)
            assert current is not None
            run = dry_run_store.start_backtest(
                session,
                candidate_sources=dict(draft.sources),
                against=current.version,
                actor="cli",
                now=datetime.now(UTC),
                draft_id=draft_id,
            )
            session.commit()
            run_id = run.id
        started = time.perf_counter()
        finished = dry_runs.run_backtest(app, run_id)
        if finished.status != dry_run_store.DONE:
            raise SystemExit(f"dry run {run_id} failed: {finished.error}")
        log(f"dry run {run_id} done in {time.perf_counter() - started:.1f} s")


def signed_in(app: Flask) -> FlaskClient:
    """Return a test client signed in as the bench's admin."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"signing in failed: {response.status_code}")
    return client


def time_page(client: FlaskClient, path: str, repeat: int) -> tuple[float, float, int]:
    """Return the median and best milliseconds of ``repeat`` GETs of ``path`` and its size (or 0, 0, status)."""
    times = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            return 0.0, 0.0, response.status_code
        size = len(response.get_data())
    return statistics.median(times), min(times), size


@dataclass(frozen=True)
class TuningPages:
    """The pages that list and show the bench draft's dry runs, and an admin's client to fetch them."""

    client: FlaskClient
    draft_id: int
    run_id: int

    @property
    def rules_home(self) -> str:
        """Return the address of the rules home, which lists the dry runs."""
        return "/rules/"

    @property
    def draft_page(self) -> str:
        """Return the address of the bench draft's page."""
        return f"/rules/drafts/{self.draft_id}"

    def result_page(self, page: int = 1) -> str:
        """Return the address of a page of the newest dry run's result."""
        return f"/rules/dry-runs/{self.run_id}" + (f"?page={page}" if page != 1 else "")

    @property
    def progress(self) -> str:
        """Return the address of the newest dry run's progress JSON."""
        return f"/rules/dry-runs/{self.run_id}/progress"

    def labelled(self) -> dict[str, str]:
        """Return every page by the label the bench prints."""
        return {
            "/rules/ (lists the dry runs)": self.rules_home,
            "draft page": self.draft_page,
            "dry run result, page 1": self.result_page(),
            "dry run result, page 50": self.result_page(50),
            "dry run progress JSON": self.progress,
        }

    def median_ms(self, path: str, repeat: int) -> float:
        """Return the median milliseconds of ``repeat`` GETs of ``path``, after one to warm templates and caches."""
        self.client.get(path)
        median, _best, status = time_page(self.client, path, repeat)
        if not median:
            raise SystemExit(f"{path} answered HTTP {status}")
        return median


def prepare(app: Flask, runs: int, log: Callable[[str], object] = print) -> TuningPages:
    """Add the bench admin and draft to ``app`` (seeded already), run dry runs of it until it has ``runs``, sign in.

    A busy machine must not fail the runs the pages show: what is timed is the pages, so the runs get time."""
    app.config[budget.EVALUATION_MS_SETTING] = 10_000
    app.config[budget.DRY_RUN_SECONDS_SETTING] = 3_600
    draft_id = bench_draft(app, admin(app))
    run_id = ensure_runs(app, draft_id, runs, log)
    return TuningPages(signed_in(app), draft_id, run_id)


def main() -> None:
    """Seed, run the dry runs, then time every page ``--repeat`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", type=Path, default=None, help="a folder to keep the database in")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = options.database or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        app = make_app(folder, None)
        missing = options.count - stored_count(app)
        if missing > 0:
            print(f"seeding {missing} submissions ...", flush=True)
            print(f"seeded in {seed(app, missing):.1f} s", flush=True)
        pages = prepare(app, options.runs, lambda line: print(line, flush=True))
        print(f"{stored_count(app)} submissions, {options.runs} dry runs; ms per GET ({options.repeat} each)")
        for label, path in pages.labelled().items():
            pages.client.get(path)  # warm up templates and caches
            median, best, size = time_page(pages.client, path, options.repeat)
            if not median:
                print(f"  {label:<30} not timed: HTTP {size}", flush=True)
                continue
            print(f"  {label:<30} median {median:8.1f}  best {best:8.1f}  ({size:,} bytes)", flush=True)


if __name__ == "__main__":
    main()
