"""The queue stays an index seek as decided submissions pile up; migration 0004 builds the index and backfills.

Speed is asserted without a stopwatch: SQLite's progress handler counts the virtual-machine steps a
query takes, which grows with the rows it walks and does not depend on the machine's load.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from sqlalchemy import event
from sqlalchemy import orm

from screening import migrate
from screening.db import engine_for
from screening.db import make_engine
from screening.db import new_session
from screening.models import Submission
from screening.review.queue import queue_page

from .test_review_service import NOW
from .test_review_service import OUTCOMES
from .test_review_service import add_submission
from .test_review_service import add_user

NEEDING_ACTION = [name for name, (_, needs) in OUTCOMES.items() if needs]


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


def add_decided(session: orm.Session, count: int, *, seed: int, assignee_id: int) -> None:
    """Insert ``count`` decided submissions in one statement, older than the open ones and in every outcome."""
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        outcome = rng.choice(list(OUTCOMES))
        priority, needs_action = OUTCOMES[outcome]
        rows.append(
            {
                "reference": f"DEC-{seed}-{number:06d}",
                "submitted_at": NOW - timedelta(days=30, minutes=rng.randint(0, 60 * 24 * 60)),
                "form_version": "test",
                "answers": {},
                "scores": {},
                "safety_flag": outcome == "safety",
                "outcome": outcome,
                "priority": priority,
                "needs_action": needs_action,
                "status": "decided",
                "assignee_id": assignee_id,
                "row_version": 2,
            }
        )
    session.execute(sa.insert(Submission), rows)


def add_open_work(session: orm.Session, count: int, *, seed: int) -> None:
    """Add ``count`` open submissions needing action (every tenth claimed)."""
    rng = random.Random(seed)
    doctor = add_user(session, f"open-{seed}@clinic.example")
    for number in range(count):
        claimed = number % 10 == 0
        add_submission(
            session,
            rng.choice(NEEDING_ACTION),
            submitted_at=NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 20)),
            status="claimed" if claimed else "open",
            assignee=doctor if claimed else None,
        )


def walk(session: orm.Session, **filters: Any) -> list[int]:
    """Return the ids of every page of the queue, following the cursors."""
    ids: list[int] = []
    cursor = None
    while True:
        page = queue_page(session, after=cursor, limit=20, **filters)
        ids += [row.id for row in page.rows]
        if not page.has_more:
            return ids
        cursor = page.next_cursor


def test_decided_submissions_do_not_change_the_pages(db: orm.Session) -> None:
    add_open_work(db, 90, seed=1)
    doctor = add_user(db, "decider@clinic.example")
    before = {
        "all": walk(db),
        "open": walk(db, status="open"),
        "candidate": walk(db, outcome="candidate"),
        "assignee": walk(db, assignee_id=doctor.id),
    }
    add_decided(db, 600, seed=2, assignee_id=doctor.id)
    after = {
        "all": walk(db),
        "open": walk(db, status="open"),
        "candidate": walk(db, outcome="candidate"),
        "assignee": walk(db, assignee_id=doctor.id),
    }
    assert after == before and len(before["all"]) == 90 and before["assignee"] == []
    decided = walk(db, status="decided")
    assert len(decided) == len(set(decided)) == len(walk(db, status="decided", needs_action=True))
    assert not set(decided) & set(before["all"])


def test_open_and_claimed_pages_merge_in_queue_order(db: orm.Session) -> None:
    add_open_work(db, 60, seed=3)
    rows = [row for row in queue_page(db, limit=200).rows]
    assert {row.status for row in rows} == {"open", "claimed"}
    keys = [(row.priority, row.submitted_at, row.id) for row in rows]
    assert keys == sorted(keys)
    assert walk(db) == [row.id for row in rows]


# --- Index seeks, counted in SQLite's virtual-machine steps ----------------------------------------------


def sqlite_only(app: Flask) -> None:
    """Skip on other backends: the plan and step counts below are SQLite's."""
    if engine_for(app).dialect.name != "sqlite":
        pytest.skip("query plans and VM steps are SQLite's")


def steps_of(session: orm.Session, run: Callable[[], object]) -> int:
    """Return how many hundred SQLite VM steps ``run`` takes on the session's connection."""
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0

    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    raw.set_progress_handler(tick, 100)
    try:
        run()
    finally:
        raw.set_progress_handler(None, 0)
    return count


def test_thousands_of_decided_submissions_do_not_slow_a_page(app: Flask, db: orm.Session) -> None:
    sqlite_only(app)
    add_open_work(db, 120, seed=4)
    doctor = add_user(db, "busy@clinic.example")
    pages: dict[str, Callable[[], object]] = {
        "first": lambda: queue_page(db),
        "deep": lambda: queue_page(db, after=queue_page(db, limit=100).next_cursor),
        "outcome": lambda: queue_page(db, outcome="candidate"),
        "claimed": lambda: queue_page(db, status="claimed"),
    }
    before = {name: steps_of(db, run) for name, run in pages.items()}
    add_decided(db, 6000, seed=5, assignee_id=doctor.id)  # 50 times the open work
    after = {name: steps_of(db, run) for name, run in pages.items()}
    for name in pages:
        assert after[name] <= before[name] * 1.5 + 5, (name, before, after)


def test_every_query_of_a_page_seeks_an_index(app: Flask, db: orm.Session) -> None:
    sqlite_only(app)
    add_open_work(db, 30, seed=6)
    statements: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", remember)
    try:
        for filters in ({}, {"outcome": "safety"}, {"status": "decided"}, {"needs_action": False}):
            first = queue_page(db, limit=5, **filters)
            queue_page(db, limit=5, after=first.next_cursor, **filters)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    queries = [sql for sql in statements if "FROM submission" in sql]
    assert len(queries) == 2 * (2 + 2 + 1 + 2)  # open and claimed apart unless a status is asked for
    for sql in queries:
        placeholders = (1,) * sql.count("?")  # the plan does not depend on the values
        plan = " | ".join(row[-1] for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, placeholders))
        assert "SEARCH submission USING INDEX ix_submission_queue" in plan, plan
        assert "status=? AND needs_action=?" in plan, plan
        assert "TEMP B-TREE" not in plan and "SCAN submission" not in plan, plan


# --- Migration 0004 --------------------------------------------------------------------------------------


def _insert_at_0003(url: str) -> None:
    """Add submissions as revision 0003 stored them: one with two decisions, one with none, one complete."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for number, (outcome, priority) in enumerate([(None, None), (None, None), ("candidate", 3)], start=1):
            connection.execute(
                sa.text(
                    "INSERT INTO submission (id, reference, submitted_at, form_version, answers, scores, safety_flag,"
                    " outcome, priority, needs_action, status, row_version)"
                    " VALUES (:id, :ref, '2026-01-01 00:00:00', 'v', '{}', '{}', 0, :outcome, :priority, 1, 'open', 1)"
                ),
                {"id": number, "ref": f"OLD-{number}", "outcome": outcome, "priority": priority},
            )
        for decision_id, outcome, priority, needs in [(1, "candidate", 3, 1), (2, "counseling", 5, 0)]:
            connection.execute(
                sa.text(
                    "INSERT INTO decision (id, submission_id, created_at, outcome, priority, needs_action,"
                    " engine_version, form_version, message, fired, notes, facts, trials)"
                    " VALUES (:id, 1, '2026-01-01 00:00:00', :outcome, :priority, :needs, 'e', 'v', 'm',"
                    " '[]', '[]', '{}', '[]')"
                ),
                {"id": decision_id, "outcome": outcome, "priority": priority, "needs": needs},
            )
    engine.dispose()


def test_migration_0004_backfills_and_replaces_the_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0003")
    _insert_at_0003(url)
    command.upgrade(config, "0004")
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT id, outcome, priority, needs_action FROM submission ORDER BY id")
        ).all()
        indexes = {index["name"]: index["column_names"] for index in sa.inspect(connection).get_indexes("submission")}
    assert [tuple(row) for row in stored] == [
        (1, "counseling", 5, 0),  # from the latest decision
        (2, "manual_review", 4, 1),  # no decision: the error outcome, kept for review
        (3, "candidate", 3, 1),  # complete already: unchanged
    ]
    assert indexes["ix_submission_queue"] == ["status", "needs_action", "priority", "submitted_at", "id"]
    assert indexes["ix_submission_queue_outcome"] == [
        "status",
        "needs_action",
        "outcome",
        "priority",
        "submitted_at",
        "id",
    ]
    command.downgrade(config, "0003")
    with engine.connect() as connection:
        indexes = {index["name"]: index["column_names"] for index in sa.inspect(connection).get_indexes("submission")}
    assert indexes["ix_submission_queue"] == ["needs_action", "priority", "submitted_at", "id"]
    assert "ix_submission_queue_outcome" not in indexes
    command.upgrade(config, "0004")
    assert migrate.current_revision(engine) == "0004"
    engine.dispose()
