"""Physicians' actions on a submission: every valid transition, every invalid one, audit rows and the detail."""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from screening.db import new_session
from screening.decisions import reevaluate
from screening.errors import ScreeningError
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import ReviewAction
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.review.errors import ReviewConflict
from screening.review.errors import ReviewForbidden
from screening.review.errors import ReviewInvalid
from screening.review.errors import ReviewNotFound
from screening.active_rules import require_ruleset

from .patient import Patient

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
#: Queue priority and needs_action of each outcome, as rules/outcomes.yaml ships them.
OUTCOMES = {
    "safety": (1, True),
    "contraindication_review": (2, True),
    "candidate": (3, True),
    "manual_review": (4, True),
    "counseling": (5, False),
    "not_candidate": (6, False),
}
NOTE = "Discussed on the phone; invite to a consultation. <script>alert(1)</script>"
_references = itertools.count(1)


# --- Factories, shared by the other test_review_* modules -------------------------------------------


def add_user(session: orm.Session, email: str, role: str = "physician", *, disabled: bool = False) -> User:
    """Add a user directly (the sign-in code is not needed here)."""
    user = User(email=email, password_hash="not-a-real-hash", role=role, disabled=disabled, created_at=NOW)
    session.add(user)
    session.flush()
    return user


def add_submission(
    session: orm.Session,
    outcome: str = "candidate",
    *,
    submitted_at: datetime | None = None,
    safety_flag: bool | None = None,
    status: str = "open",
    assignee: User | None = None,
) -> Submission:
    """Add a submission with the queue columns an automated decision would have set."""
    priority, needs_action = OUTCOMES[outcome]
    submission = Submission(
        reference=f"TST-{next(_references):06d}",
        submitted_at=submitted_at or NOW - timedelta(hours=1),
        form_version="test",
        answers={},
        scores={},
        safety_flag=outcome == "safety" if safety_flag is None else safety_flag,
        outcome=outcome,
        priority=priority,
        needs_action=needs_action,
        status=status,
        assignee_id=assignee.id if assignee else None,
    )
    session.add(submission)
    session.flush()
    return submission


def actions_of(session: orm.Session, submission: Submission) -> list[tuple[str, str | None, int]]:
    """Return (action, decision, actor id) of every review action on ``submission``, oldest first."""
    query = sa.select(ReviewAction).where(ReviewAction.submission_id == submission.id).order_by(ReviewAction.id)
    return [(row.action, row.decision, row.actor_id) for row in session.scalars(query)]


def audit_actions(session: orm.Session) -> list[str]:
    """Return the action of every audit event, oldest first."""
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def fresh(session: orm.Session, submission: Submission) -> Submission:
    """Return the submission as stored."""
    session.expire_all()
    return session.get_one(Submission, submission.id)


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


@pytest.fixture()
def doctors(db: orm.Session) -> tuple[User, User]:
    """Return two physicians."""
    return add_user(db, "ada@clinic.example"), add_user(db, "ben@clinic.example")


# --- Valid transitions ------------------------------------------------------------------------------


def test_claim_assigns_the_submission_and_records_it(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db)
    action = service.claim(db, submission.id, ada, NOW, remote_addr="203.0.113.9")
    db.commit()
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id, stored.row_version) == ("claimed", ada.id, 2)
    assert (action.action, action.actor_id, action.at) == ("claim", ada.id, NOW)
    event = db.scalars(sa.select(AuditEvent)).one()
    assert (event.actor, event.action, event.subject_type, event.subject_id) == (
        f"user:{ada.id}",
        "review.claimed",
        "submission",
        submission.id,
    )
    assert event.remote_addr == "203.0.113.9"
    assert event.details == {"review_action_id": action.id, "row_version": 2}


def test_release_by_the_assignee_puts_it_back_in_the_open_queue(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db)
    service.claim(db, submission.id, ada, NOW)
    service.release(db, submission.id, ada, LATER)
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id) == ("open", None)
    assert actions_of(db, submission) == [("claim", None, ada.id), ("release", None, ada.id)]
    assert audit_actions(db) == ["review.claimed", "review.released"]


def test_take_over_moves_the_claim_and_records_who_had_it(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db)
    service.claim(db, submission.id, ada, NOW)
    service.take_over(db, submission.id, ben, LATER)
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id) == ("claimed", ben.id)
    assert actions_of(db, submission) == [("claim", None, ada.id), ("take_over", None, ben.id)]
    event = db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "review.taken_over")).one()
    assert event.details["previous_assignee_id"] == ada.id
    assert event.actor == f"user:{ben.id}"


@pytest.mark.parametrize("decision", ["consult", "decline", "request_info", "safety_followup_done"])
def test_decide_a_claimed_submission(db: orm.Session, doctors: tuple[User, User], decision: str) -> None:
    ada, _ = doctors
    submission = add_submission(db, "safety")
    service.claim(db, submission.id, ada, NOW)
    contact = "reached" if decision == "safety_followup_done" else None
    action = service.decide(db, submission.id, ada, decision, f"  {NOTE}\n", True, LATER, contact_result=contact)
    db.commit()
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id) == ("decided", ada.id)
    assert (action.action, action.decision, action.note, action.note_for_patient) == ("decide", decision, NOTE, True)
    event = db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "review.decided")).one()
    assert event.details == {
        "review_action_id": action.id,
        "row_version": stored.row_version,
        "decision": decision,
        "note_for_patient": True,
        **({"contact_result": contact} if contact else {}),
    }


def test_deciding_an_unclaimed_submission_claims_it_first(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db)
    service.decide(db, submission.id, ada, "consult", NOTE, False, NOW)
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id) == ("decided", ada.id)
    assert actions_of(db, submission) == [("claim", None, ada.id), ("decide", "consult", ada.id)]
    assert audit_actions(db) == ["review.claimed", "review.decided", "patient_message.queued"]  # its message too


def test_a_submission_needing_no_action_can_still_be_decided(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db, "counseling")
    service.decide(db, submission.id, ada, "consult", NOTE, False, NOW)
    assert fresh(db, submission).status == "decided"


def test_reopen_puts_a_decided_submission_back_unassigned(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db)
    service.decide(db, submission.id, ada, "decline", "Outside our criteria.", False, NOW)
    action = service.reopen(db, submission.id, ben, LATER, note="The patient sent new information.")
    stored = fresh(db, submission)
    assert (stored.status, stored.assignee_id) == ("open", None)
    assert (action.action, action.note) == ("reopen", "The patient sent new information.")
    service.claim(db, submission.id, ben, LATER)
    service.decide(db, submission.id, ben, "consult", NOTE, False, LATER)
    assert [row[0] for row in actions_of(db, submission)] == ["claim", "decide", "reopen", "claim", "decide"]


def test_the_automated_decision_is_never_changed(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db, "contraindication_review")
    service.decide(db, submission.id, ada, "decline", "Contraindicated: uncontrolled hypertension.", False, NOW)
    stored = fresh(db, submission)
    assert (stored.outcome, stored.priority, stored.needs_action) == ("contraindication_review", 2, True)


# --- Invalid transitions: a clear message, nothing changed ------------------------------------------


def refused(db: orm.Session, error: type[ScreeningError], match: str, call: object) -> None:
    """Assert ``call`` raises ``error`` with ``match`` and leaves no action or audit row behind."""
    before = (db.scalar(sa.select(sa.func.count(ReviewAction.id))), len(audit_actions(db)))
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
    after = (db.scalar(sa.select(sa.func.count(ReviewAction.id))), len(audit_actions(db)))
    assert after == before


def test_deciding_twice_is_a_conflict(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db)
    service.decide(db, submission.id, ada, "consult", NOTE, False, NOW)
    for user in (ada, ben):
        refused(db, ReviewConflict, "already been decided. Reopen it first", lambda u=user: service.decide(db, submission.id, u, "decline", "No.", False, LATER))  # fmt: skip


def test_acting_on_a_case_claimed_by_someone_else(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db)
    service.claim(db, submission.id, ada, NOW)
    message = "claimed by another physician. Take it over first."
    refused(db, ReviewConflict, message, lambda: service.claim(db, submission.id, ben, LATER))
    refused(db, ReviewConflict, message, lambda: service.decide(db, submission.id, ben, "consult", NOTE, False, LATER))
    refused(db, ReviewConflict, "only they can release it", lambda: service.release(db, submission.id, ben, LATER))
    assert fresh(db, submission).assignee_id == ada.id


def test_claiming_twice_and_taking_over_ones_own_claim(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db)
    service.claim(db, submission.id, ada, NOW)
    refused(db, ReviewConflict, "already claimed", lambda: service.claim(db, submission.id, ada, LATER))
    refused(db, ReviewConflict, "already claimed", lambda: service.take_over(db, submission.id, ada, LATER))


def test_actions_that_need_a_claim_or_a_decision(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db)
    refused(db, ReviewConflict, "not claimed", lambda: service.release(db, submission.id, ada, NOW))
    refused(db, ReviewConflict, "Claim it instead", lambda: service.take_over(db, submission.id, ben, NOW))
    refused(db, ReviewConflict, "Only a decided submission", lambda: service.reopen(db, submission.id, ada, NOW))
    service.decide(db, submission.id, ada, "consult", NOTE, False, NOW)
    for call in (service.claim, service.release, service.take_over):
        refused(db, ReviewConflict, "already been decided", lambda c=call: c(db, submission.id, ben, LATER))


def test_safety_followup_done_only_for_safety_cases(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db, "candidate")
    refused(db, ReviewInvalid, "only to submissions with a safety flag", lambda: service.decide(db, submission.id, ada, "safety_followup_done", NOTE, False, NOW))  # fmt: skip
    assert fresh(db, submission).status == "open"
    flagged = add_submission(db, "contraindication_review", safety_flag=True)
    service.decide(db, flagged.id, ada, "safety_followup_done", NOTE, False, NOW, contact_result="reached")


@pytest.mark.parametrize(
    ("decision", "note", "match"),
    [
        ("consult", "", "every decision needs one"),
        ("consult", "   \n\t ", "every decision needs one"),
        ("request_info", None, "every decision needs one"),
        ("decline", "", "reason for declining"),
        ("consult", "x" * 2001, "2001 characters; please keep it to 2000"),
        ("discharge", NOTE, "Choose a decision"),
        ("", NOTE, "Choose a decision"),
    ],
)
def test_bad_decision_input(db: orm.Session, doctors: tuple[User, User], decision: str, note: str | None, match: str) -> None:  # fmt: skip
    ada, _ = doctors
    submission = add_submission(db)
    refused(db, ReviewInvalid, match, lambda: service.decide(db, submission.id, ada, decision, note, False, NOW))
    assert fresh(db, submission).status == "open"


def test_a_note_of_exactly_the_limit_is_accepted(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, _ = doctors
    submission = add_submission(db)
    action = service.decide(db, submission.id, ada, "consult", "y" * 2000, False, NOW)
    assert action.note == "y" * 2000


@pytest.mark.parametrize(("role", "disabled"), [("staff", False), ("admin", False), ("physician", True)])
def test_only_active_physicians_may_act(db: orm.Session, role: str, disabled: bool) -> None:
    user = add_user(db, "someone@clinic.example", role, disabled=disabled)
    submission = add_submission(db)
    calls = [
        lambda: service.claim(db, submission.id, user, NOW),
        lambda: service.release(db, submission.id, user, NOW),
        lambda: service.take_over(db, submission.id, user, NOW),
        lambda: service.decide(db, submission.id, user, "consult", NOTE, False, NOW),
        lambda: service.reopen(db, submission.id, user, NOW),
    ]
    for call in calls:
        refused(db, ReviewForbidden, "Only physicians", call)


def test_an_unknown_submission_is_not_found(db: orm.Session, doctors: tuple[User, User]) -> None:
    with pytest.raises(ReviewNotFound):
        service.claim(db, 999_999, doctors[0], NOW)
    with pytest.raises(ReviewNotFound):
        service.submission_detail(db, 999_999)


def test_the_errors_map_to_http_statuses() -> None:
    assert issubclass(ReviewConflict, ScreeningError) and ReviewConflict.http_status == 409
    assert (ReviewForbidden.http_status, ReviewNotFound.http_status, ReviewInvalid.http_status) == (403, 404, 422)
    assert ReviewConflict("x").message == "x"


def test_audit_rows_never_hold_note_text(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db, "safety")
    service.claim(db, submission.id, ada, NOW)
    service.take_over(db, submission.id, ben, NOW)
    service.decide(db, submission.id, ben, "safety_followup_done", NOTE, True, NOW, contact_result="message_left")
    service.reopen(db, submission.id, ada, LATER, note="Secret reason to reopen")
    db.commit()
    events = db.scalars(sa.select(AuditEvent)).all()
    assert len(events) == 4
    dumped = json.dumps([event.details for event in events])
    assert "Discussed" not in dumped and "Secret" not in dumped and "script" not in dumped
    for event in events:
        assert all(isinstance(value, int | str | bool | type(None)) for value in event.details.values())


# --- What the physician reads -----------------------------------------------------------------------


def test_submission_detail_has_decisions_history_and_alerts(app: Flask, patient: Patient) -> None:
    patient.answer_all({"mood": {"phq9_9": "1"}})
    patient.submit()
    with new_session(app) as session:
        submission = session.scalars(sa.select(Submission)).one()
        first = service.submission_detail(session, submission.id).decision
        newer = reevaluate(session, submission, require_ruleset(app), now=LATER, actor="cli")
        ada = add_user(session, "ada@clinic.example")
        alert = Alert(submission_id=submission.id, created_at=NOW, status="failed", attempts=5)
        session.add(alert)
        service.claim(session, submission.id, ada, LATER)
        service.decide(
            session, submission.id, ada, "safety_followup_done", NOTE, False, LATER, contact_result="reached"
        )
        service.record_view(session, submission.id, ada, LATER)
        session.commit()
        detail = service.submission_detail(session, submission.id)
    assert first is not None and first.outcome == "safety"
    assert detail.submission.reference == submission.reference
    assert detail.decision is not None and detail.decision.id == newer.id
    assert [decision.id for decision in detail.earlier_decisions] == [first.id]
    assert [(entry.action.action, entry.actor_email) for entry in detail.actions] == [
        ("claim", "ada@clinic.example"),
        ("decide", "ada@clinic.example"),
    ]
    assert detail.actions[1].action.note == NOTE
    # The intake may have queued its own urgent alert for this safety case; ours is there too.
    assert detail.alert_failed and alert.id in [row.id for row in detail.alerts]
    assert detail.assignee_email == "ada@clinic.example"
    with new_session(app) as session:
        assert audit_actions(session)[-1] == "submission.viewed"


# --- The patient's status link ----------------------------------------------------------------------


def test_status_token_is_stored_hashed(db: orm.Session) -> None:
    submission = add_submission(db)
    token = service.issue_status_token(submission)
    db.commit()
    stored = fresh(db, submission)
    assert len(token) >= 43 and stored.status_token_hash not in (None, token)
    assert len(stored.status_token_hash or "") == 64
    assert service.patient_status(db, token).reference == submission.reference
    assert service.issue_status_token(submission) != token


def test_patient_status_follows_the_review(db: orm.Session, doctors: tuple[User, User]) -> None:
    ada, ben = doctors
    submission = add_submission(db, "safety")
    token = service.issue_status_token(submission)
    db.flush()
    status = service.patient_status(db, token)
    assert (status.state, status.notes, status.updated_at, status.safety_flag) == ("received", (), submission.submitted_at, True)  # fmt: skip
    service.claim(db, submission.id, ada, NOW)
    assert service.patient_status(db, token).state == "under_review"
    service.release(db, submission.id, ada, NOW)
    assert service.patient_status(db, token).state == "under_review"
    service.decide(db, submission.id, ben, "request_info", "Internal: check the cardiology letter.", False, LATER)
    status = service.patient_status(db, token)
    assert (status.state, status.notes, status.updated_at) == ("contact", (), LATER)
    service.reopen(db, submission.id, ben, LATER)
    service.decide(db, submission.id, ben, "consult", "We will call you this week to book a visit.", True, LATER)
    assert service.patient_status(db, token).notes == ("We will call you this week to book a visit.",)
    service.reopen(db, submission.id, ada, LATER)
    status = service.patient_status(db, token)
    assert (status.state, status.notes) == ("under_review", ())


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 43])
def test_an_unknown_status_token_is_not_found(db: orm.Session, token: str) -> None:
    service.issue_status_token(add_submission(db))
    db.flush()
    with pytest.raises(ReviewNotFound, match="could not find a submission for this link"):
        service.patient_status(db, token)
