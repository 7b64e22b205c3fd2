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
from screening.db import engine_for
from screening.db import make_engine
from screening.db import new_session
from screening.decisions import apply_to_submission
from screening.models import Decision
from screening.models import Submission
from screening.review import service
from screening.review.errors import ReviewError
from screening.review.queue import OPEN_STATUSES

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
