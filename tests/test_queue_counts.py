"""The queue's counts per outcome are kept in step with every change, and reading them scans no submission."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from sqlalchemy import event
from sqlalchemy import orm

from screening import migrate
from screening.active_rules import require_ruleset
from screening.db import engine_for
from screening.db import make_engine
from screening.db import new_session
from screening.decisions import apply_to_submission
from screening.models import Decision
from screening.models import Submission
from screening.review import service
from screening.review.errors import ReviewError
from screening.review.queue import OPEN_STATUSES
from screening.review.seed import CHUNK_SIZE
from screening.review.seed import seed_submissions

from .test_review_service import NOTE
from .test_review_service import NOW
from .test_review_service import OUTCOMES
from .test_review_service import add_submission
from .test_review_service import add_user


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


def recount(session: orm.Session, needs_action: bool) -> dict[str, int]:
    """Return the counts the slow way: every open or claimed submission, read one by one."""
    rows = session.execute(
        sa.select(Submission.outcome).where(
            Submission.status.in_(OPEN_STATUSES), Submission.needs_action == needs_action
        )
    )
    return dict(Counter(outcome or "unknown" for (outcome,) in rows))


def counts(session: orm.Session) -> tuple[dict[str, int], dict[str, int]]:
    """Return the kept counts of both lists."""
    return service.outcome_counts(session, needs_action=True), service.outcome_counts(session, needs_action=False)


def test_counts_follow_submit_claim_release_decide_and_reopen(db: orm.Session) -> None:
    ada, bob = add_user(db, "ada@clinic.example"), add_user(db, "bob@clinic.example")
    assert counts(db) == ({}, {})
    first = add_submission(db, "candidate")
    add_submission(db, "candidate")
    add_submission(db, "counseling")
    assert counts(db) == ({"candidate": 2}, {"counseling": 1})
    service.claim(db, first.id, ada, NOW)
    assert counts(db) == ({"candidate": 2}, {"counseling": 1})
    service.take_over(db, first.id, bob, NOW)
    service.release(db, first.id, bob, NOW)
    assert counts(db) == ({"candidate": 2}, {"counseling": 1})
    service.decide(db, first.id, ada, "consult", NOTE, False, NOW)
    assert counts(db) == ({"candidate": 1}, {"counseling": 1})
    service.reopen(db, first.id, ada, NOW)
    assert counts(db) == ({"candidate": 2}, {"counseling": 1})
    db.commit()
    with orm.Session(db.get_bind()) as other:  # as another worker would read them
        assert counts(other) == ({"candidate": 2}, {"counseling": 1})


def test_a_new_decision_moves_the_submission_between_outcomes_and_lists(db: orm.Session) -> None:
    submission = add_submission(db, "candidate")
    decision = Decision(outcome="not_candidate", priority=6, needs_action=False)
    apply_to_submission(submission, decision)
    db.flush()
    assert counts(db) == ({}, {"not_candidate": 1})
    submission.outcome = None
    db.flush()
    assert counts(db) == ({}, {"unknown": 1})


def test_deleting_and_rolling_back_keep_the_counts(db: orm.Session) -> None:
    keep = add_submission(db, "safety")
    db.commit()
    gone = add_submission(db, "safety")
    assert counts(db) == ({"safety": 2}, {})
    db.rollback()
    assert counts(db) == ({"safety": 1}, {})
    db.delete(db.get(Submission, keep.id))
    db.flush()
    assert counts(db) == ({}, {})
    assert gone.id != keep.id


def test_bulk_updates_are_counted_too(db: orm.Session) -> None:
    for outcome in ("candidate", "candidate", "manual_review", "counseling"):
        add_submission(db, outcome)
    db.execute(sa.update(Submission).where(Submission.outcome == "candidate").values(status="decided"))
    assert counts(db) == ({"manual_review": 1}, {"counseling": 1})
    db.execute(sa.update(Submission).values(status="open"))
    assert counts(db) == ({"candidate": 2, "manual_review": 1}, {"counseling": 1})


def test_random_changes_always_agree_with_a_recount(db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.example")
    chance = random.Random(14)
    made: list[int] = []
    for _ in range(120):
        step = chance.random()
        if step < 0.4 or not made:
            made.append(add_submission(db, chance.choice(list(OUTCOMES)), status=chance.choice(OPEN_STATUSES)).id)
        elif step < 0.6:
            submission = db.get(Submission, chance.choice(made))
            assert submission is not None
            outcome = chance.choice(list(OUTCOMES))
            submission.outcome, submission.needs_action = outcome, OUTCOMES[outcome][1]
            db.flush()
        elif step < 0.8:
            with contextlib.suppress(ReviewError):
                service.decide(db, chance.choice(made), ada, "consult", NOTE, False, NOW)
        else:
            with contextlib.suppress(ReviewError):
                service.reopen(db, chance.choice(made), ada, NOW)
        assert counts(db) == (recount(db, True), recount(db, False))


def test_reading_the_counts_reads_no_submission(app: Flask, db: orm.Session) -> None:
    for outcome in OUTCOMES:
        add_submission(db, outcome)
    db.commit()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine_for(app), "before_cursor_execute", seen)
    try:
        assert sum(counts(db)[0].values()) == 4
    finally:
        event.remove(engine_for(app), "before_cursor_execute", seen)
    assert statements and not any("submission" in statement for statement in statements), statements


def test_the_migration_counts_the_submissions_already_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0008")
    engine = make_engine(url)
    insert = (
        "INSERT INTO submission (reference, submitted_at, form_version, answers, scores, safety_flag, needs_action, "
        "status, row_version, outcome) VALUES (:reference, '2026-11-01 10:00:00', 'test', '{}', '{}', 0, :needs, "
        ":status, 1, :outcome)"
    )
    rows = [("open", 1, "candidate"), ("claimed", 1, "candidate"), ("decided", 1, "candidate"), ("open", 0, None)]
    with engine.begin() as connection:
        for n, (status, needs, outcome) in enumerate(rows):
            values = {"reference": f"R-{n}", "status": status, "needs": needs, "outcome": outcome}
            connection.execute(sa.text(insert), values)
    command.upgrade(config, "head")
    with orm.Session(engine) as session:
        assert counts(session) == ({"candidate": 2}, {"unknown": 1})
    command.downgrade(config, "0008")
    with engine.connect() as connection:
        assert "queue_count" not in sa.inspect(connection).get_table_names()
        connection.execute(sa.text("UPDATE submission SET status = 'decided'"))  # no trigger is left behind
    engine.dispose()


# --- Many rows in one statement ------------------------------------------------------------------------------


def count_row_writes(session: orm.Session) -> int:
    """Return how many rows of queue_count this transaction has inserted or updated so far (PostgreSQL)."""
    statistics = session.execute(
        sa.text("SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'queue_count'")
    )
    return int(statistics.scalar_one())


def test_one_statement_of_many_rows_writes_each_count_once(db: orm.Session) -> None:
    """On PostgreSQL every write of a count row leaves a version that one long transaction cannot clean up, so
    counts kept row by row made a bulk insert (seeding 100,000) slower with every row; they are kept per statement.
    """
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite keeps no row versions: its triggers count row by row")
    rows = [
        {"reference": f"BULK-{n}", "submitted_at": NOW, "form_version": "test", "answers": {}, "scores": {},
         "safety_flag": False, "outcome": outcome, "priority": OUTCOMES[outcome][0],
         "needs_action": OUTCOMES[outcome][1], "status": "open", "row_version": 1}
        for n, outcome in enumerate(["candidate", "counseling", "manual_review"] * 100)
    ]  # fmt: skip
    before = count_row_writes(db)
    db.execute(sa.insert(Submission).values(rows))
    assert count_row_writes(db) - before == 3  # one per (list, outcome), not 300
    before = count_row_writes(db)
    db.execute(sa.update(Submission).where(Submission.outcome == "candidate").values(status="decided"))
    db.execute(sa.update(Submission).values(row_version=Submission.row_version + 1))  # no count changes: no write
    assert count_row_writes(db) - before == 1
    assert counts(db) == ({"manual_review": 100}, {"counseling": 100})
    db.execute(sa.delete(Submission).where(Submission.outcome == "manual_review"))
    assert counts(db) == ({}, {"counseling": 100})


def test_seeding_inserts_a_chunk_of_submissions_per_statement(app: Flask, db: orm.Session) -> None:
    rows_per_statement: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO submission "):
            rows_per_statement.append(statement.count("), (") + 1)

    event.listen(engine_for(app), "before_cursor_execute", seen)
    try:
        seed_submissions(db, 2 * CHUNK_SIZE + 1, seed=3, now=NOW, ruleset=require_ruleset(app))
    finally:
        event.remove(engine_for(app), "before_cursor_execute", seen)
    assert rows_per_statement == [CHUNK_SIZE, CHUNK_SIZE, 1]  # not a statement per row
    assert counts(db) == (recount(db, True), recount(db, False))
