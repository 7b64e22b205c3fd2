"""Two physicians acting on one submission at once: exactly one wins, the other is told why."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy import orm

from screening.db import new_session
from screening.models import AuditEvent
from screening.models import ReviewAction
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.review.errors import ReviewConflict

from .test_review_service import NOTE
from .test_review_service import NOW
from .test_review_service import add_submission
from .test_review_service import add_user


def setup(app: Flask, count: int = 1) -> tuple[int, int, list[int]]:
    """Commit two physicians and ``count`` open submissions; return their ids."""
    with new_session(app) as session:
        ada, ben = add_user(session, "ada@clinic.example"), add_user(session, "ben@clinic.example")
        ids = [add_submission(session, "safety").id for _ in range(count)]
        session.commit()
        return ada.id, ben.id, ids


def interleave_before_update(session: orm.Session, other: Any) -> None:
    """Run ``other`` (the rival's whole action, committed) just before ``session`` sends its UPDATE."""
    fired = []

    @event.listens_for(session, "do_orm_execute")
    def _rival_goes_first(state: orm.ORMExecuteState) -> None:
        if state.is_update and not fired:
            fired.append(True)
            other()


def claims(app: Flask, submission_id: int) -> list[tuple[str, int]]:
    """Return (action, actor id) of the review actions on a submission."""
    with new_session(app) as session:
        query = sa.select(ReviewAction.action, ReviewAction.actor_id).where(ReviewAction.submission_id == submission_id)
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_the_second_of_two_simultaneous_claims_loses(app: Flask) -> None:
    ada_id, ben_id, [submission_id] = setup(app)

    def ada_claims() -> None:
        with new_session(app) as session:
            service.claim(session, submission_id, session.get_one(User, ada_id), NOW)
            session.commit()

    with new_session(app) as ben_session:
        ben = ben_session.get_one(User, ben_id)
        # Ben's session has read the submission as open; Ada's claim commits between his check and his UPDATE.
        assert ben_session.get_one(Submission, submission_id).status == "open"
        interleave_before_update(ben_session, ada_claims)
        try:
            service.claim(ben_session, submission_id, ben, NOW)
        except ReviewConflict as error:
            assert error.message == "This submission is claimed by another physician. Take it over first."
        else:
            raise AssertionError("both physicians claimed the submission")
        ben_session.rollback()
    assert claims(app, submission_id) == [("claim", ada_id)]
    with new_session(app) as session:
        stored = session.get_one(Submission, submission_id)
        assert (stored.status, stored.assignee_id, stored.row_version) == ("claimed", ada_id, 2)
        assert session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1


def test_a_decision_races_a_take_over(app: Flask) -> None:
    ada_id, ben_id, [submission_id] = setup(app)
    with new_session(app) as session:
        service.claim(session, submission_id, session.get_one(User, ada_id), NOW)
        session.commit()

    def ben_takes_over() -> None:
        with new_session(app) as session:
            service.take_over(session, submission_id, session.get_one(User, ben_id), NOW)
            session.commit()

    with new_session(app) as ada_session:
        ada = ada_session.get_one(User, ada_id)
        interleave_before_update(ada_session, ben_takes_over)
        try:
            service.decide(ada_session, submission_id, ada, "consult", NOTE, False, NOW)
        except ReviewConflict as error:
            assert "claimed by another physician" in error.message
        else:
            raise AssertionError("a decision was recorded on a case taken over meanwhile")
    assert claims(app, submission_id) == [("claim", ada_id), ("take_over", ben_id)]


def race_to_claim(app: Flask, submission_id: int, user_ids: tuple[int, int]) -> dict[int, str]:
    """Let two threads claim one submission at the same moment; return "won" or "conflict" per user id."""
    barrier = threading.Barrier(len(user_ids))
    outcomes: dict[int, str] = {}

    def claim_as(user_id: int) -> None:
        with new_session(app) as session:
            user = session.get_one(User, user_id)
            barrier.wait(timeout=10)
            try:
                service.claim(session, submission_id, user, NOW)
                session.commit()
                outcomes[user_id] = "won"
            except ReviewConflict:
                session.rollback()
                outcomes[user_id] = "conflict"

    threads = [threading.Thread(target=claim_as, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_claims_in_threads_have_one_winner_each(app: Flask) -> None:
    ada_id, ben_id, submission_ids = setup(app, count=5)
    for submission_id in submission_ids:
        outcomes = race_to_claim(app, submission_id, (ada_id, ben_id))
        assert sorted(outcomes.values()) == ["conflict", "won"], outcomes
        winner = next(user_id for user_id, outcome in outcomes.items() if outcome == "won")
        assert claims(app, submission_id) == [("claim", winner)]
