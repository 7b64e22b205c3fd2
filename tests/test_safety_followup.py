"""Recording a safety follow-up asks what came of the contact attempt, keeps it as a code, and shows it."""

from __future__ import annotations

import re
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from screening.db import new_session
from screening.models import AuditEvent
from screening.models import ReviewAction
from screening.models import User
from screening.review import service
from screening.review.errors import ReviewInvalid

from .accounts import Auth
from .test_review_service import NOW
from .test_review_service import add_submission
from .test_review_service import add_user
from .test_review_views import act

RESULTS = {
    "reached": "Reached",
    "message_left": "Not reached, message left",
    "emergency_services": "Emergency services contacted",
    "no_contact_details": "No contact details given",
}
NOTE = "Called at 10:05; safety plan agreed."


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


@pytest.fixture()
def doctor(auth: Auth) -> User:
    """Sign the client in as a physician."""
    return auth.login_as("physician")


def decisions(db: orm.Session) -> list[ReviewAction]:
    """Return the stored decisions."""
    return list(db.scalars(sa.select(ReviewAction).where(ReviewAction.action == "decide")))


def test_the_results_are_the_four_the_clinic_named() -> None:
    assert dict(service.CONTACT_RESULTS) == RESULTS


@pytest.mark.parametrize("result", list(RESULTS))
def test_each_result_is_stored_and_audited_as_a_code(db: orm.Session, result: str) -> None:
    ada = add_user(db, "ada@clinic.test")
    submission = add_submission(db, "safety")
    row = service.decide(db, submission.id, ada, "safety_followup_done", NOTE, False, NOW, contact_result=result)
    db.commit()
    assert row.contact_result == result
    [event] = db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "review.decided")).all()
    assert event.details["contact_result"] == result
    assert NOTE not in str(event.details)


@pytest.mark.parametrize("result", [None, "", "phoned", "Reached", "reached "])
def test_a_safety_follow_up_without_a_known_result_is_refused(db: orm.Session, result: str | None) -> None:
    ada = add_user(db, "ada@clinic.test")
    submission = add_submission(db, "safety")
    db.commit()
    with pytest.raises(ReviewInvalid, match="Choose the result of the contact attempt"):
        service.decide(db, submission.id, ada, "safety_followup_done", NOTE, False, NOW, contact_result=result)
    db.rollback()
    assert decisions(db) == []


def test_other_decisions_take_no_contact_result(db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.test")
    submission = add_submission(db, "safety")
    db.commit()
    with pytest.raises(ReviewInvalid, match="only with 'Safety follow-up done'"):
        service.decide(db, submission.id, ada, "consult", NOTE, False, NOW, contact_result="reached")
    db.rollback()
    row = service.decide(db, submission.id, ada, "consult", NOTE, False, NOW)
    assert row.contact_result is None


# --- The pages ------------------------------------------------------------------------------------------------


def test_a_safety_submission_asks_for_the_result_in_a_form_of_its_own(
    auth: Auth, db: orm.Session, doctor: User
) -> None:
    safety, candidate = add_submission(db, "safety"), add_submission(db, "candidate")
    db.commit()
    page = auth.client.get(f"/review/submissions/{safety.id}").get_data(as_text=True)
    start = f'<form method="post" action="/review/submissions/{safety.id}/decide" class="followup-form">'
    form = page[page.index(start) :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="decision" value="safety_followup_done">' in form
    assert "<legend>Result of the contact attempt</legend>" in form
    radios = re.findall(r'<input[^>]*name="contact_result"[^>]*>', form)
    assert len(radios) == len(RESULTS) and all("required" in radio for radio in radios)
    for code, label in RESULTS.items():
        assert f'value="{code}"' in form and label in form
    # The general decision form no longer offers the follow-up without its result.
    assert 'name="decision" value="safety_followup_done" required' not in page
    other = auth.client.get(f"/review/submissions/{candidate.id}").get_data(as_text=True)
    assert "contact_result" not in other and "Result of the contact attempt" not in other


@pytest.mark.parametrize("sent", [{}, {"contact_result": ""}, {"contact_result": "phoned"}])
def test_a_missing_or_unknown_result_is_refused_with_a_message(
    auth: Auth, db: orm.Session, doctor: User, sent: dict[str, str]
) -> None:
    submission = add_submission(db, "safety")
    db.commit()
    page = act(auth, submission, "decide", decision="safety_followup_done", note=NOTE, **sent)
    assert "Not done:" in page and "Choose the result of the contact attempt" in page
    assert decisions(db) == []


def test_the_result_is_shown_on_the_history(auth: Auth, db: orm.Session, doctor: User) -> None:
    submission = add_submission(db, "safety")
    db.commit()
    page = act(
        auth, submission, "decide", decision="safety_followup_done", note=NOTE, contact_result="emergency_services"
    )
    assert "Decision recorded: Safety follow-up done." in page
    history = page[page.index('id="history-heading"') :]
    history = history[: history.index("</table>")]
    assert "Safety follow-up done" in history
    assert "Result of the contact attempt: Emergency services contacted" in history
    [row] = decisions(db)
    assert row.contact_result == "emergency_services"
