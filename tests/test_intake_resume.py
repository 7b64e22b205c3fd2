"""Save and resume: the draft, the private link, expiry and the purge command; the under-18 stop."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import new_session
from screening.models import AuditEvent
from screening.models import Draft
from screening.models import Submission

from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import posted_pairs
from .patient import rows
from .patient import saved_steps
from .patient import step_path

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43,}$")


def _expected_shown(key: str) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for name, value in posted_pairs(DEFAULT_ANSWERS[key]):
        shown.setdefault(name, []).append(value)
    return shown


def _link(patient: Patient, path: str = "/intake/about") -> str:
    """Return the resume token shown on a page."""
    token = page(patient.get(path)).resume_token()
    assert token is not None
    return token


def _expire(app: Flask, when: datetime | None = None) -> None:
    """Move every draft's expiry into the past."""
    with new_session(app) as session:
        session.execute(sa.update(Draft).values(expires_at=when or datetime.now(UTC) - timedelta(minutes=1)))
        session.commit()


def _new_patient(app: Flask) -> Patient:
    """Return a patient in a new browser: no cookies shared with anyone."""
    return Patient(app.test_client())


# --- The draft and its link --------------------------------------------------------------------------


def test_a_draft_is_stored_after_the_age_step_and_updated_after_every_step(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="age")
    assert rows(app, Draft) == []
    patient.answer("age")
    draft = only_draft(app)
    assert set(draft.steps) == {"welcome", "age"}
    assert draft.steps["age"] == [["age", "46"]]
    assert draft.safety_flagged_at is None
    for key in STEP_ORDER[2:]:
        patient.answer(key)
        assert saved_steps(app)[key] == [list(pair) for pair in posted_pairs(DEFAULT_ANSWERS[key])], key
    # The contact step is kept apart from the clear-text steps, encrypted.
    draft = only_draft(app)
    assert "contact" not in draft.steps and draft.contact_sealed is not None
    assert "decline" not in draft.contact_sealed


def test_the_draft_expires_a_configured_number_of_days_after_the_last_save(app: Flask, patient: Patient) -> None:
    app.config["DRAFT_TTL_DAYS"] = 3
    patient.answer_all(until="about")
    before = datetime.now(UTC)
    patient.answer("about")
    draft = only_draft(app)
    assert (
        before + timedelta(days=3) - timedelta(seconds=5) <= draft.expires_at <= datetime.now(UTC) + timedelta(days=3)
    )
    assert draft.updated_at >= before
    assert "3 days" in patient.get("/intake/saved").get_data(as_text=True)


def test_the_resume_link_is_shown_on_every_page_once_the_draft_exists(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="age")
    assert page(patient.get("/intake/age")).resume_token() is None
    patient.answer("age")
    token = _link(patient)
    assert TOKEN.match(token)
    assert len(token) >= 43  # 256 bits of secrets.token_urlsafe: at least 128 bits required
    patient.answer_all()
    for key in STEP_ORDER:
        assert page(patient.get(step_path(key))).resume_token() == token, key
    assert page(patient.get("/intake/review")).resume_token() == token
    assert page(patient.get("/intake/saved")).resume_token() == token
    assert f'href="https://screening.clinic.example/resume/{token}"' in patient.get("/intake/saved").get_data(
        as_text=True
    )


def test_the_database_stores_only_the_sha256_of_the_token(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    token = _link(patient)
    draft = only_draft(app)
    assert draft.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(draft.steps)
    with new_session(app) as session:
        for table in ("draft", "submission", "audit_event"):
            for row in session.execute(sa.text(f"SELECT * FROM {table}")):
                assert token not in " ".join(map(str, row)), table


def test_two_patients_get_different_links(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="about")
    other = _new_patient(app)
    other.answer_all(until="about")
    assert _link(patient) != _link(other)
    assert len(rows(app, Draft)) == 2


# --- Resuming ---------------------------------------------------------------------------------------------


def test_resume_in_a_new_browser_lands_on_the_first_incomplete_step_with_the_answers(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all(until="mood")
    token = _link(patient)
    elsewhere = _new_patient(app)
    response = elsewhere.resume(token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/mood"
    landed = page(elsewhere.get("/intake/mood"))
    assert landed.status == 200
    assert landed.shown() == {}
    for key in ("about", "pain", "symptoms"):
        assert page(elsewhere.get(step_path(key))).shown() == _expected_shown(key), key
    # The new browser carries on and sends the form.
    for key in STEP_ORDER[STEP_ORDER.index("mood") :]:
        assert elsewhere.answer(key).status_code == 302, key
    assert elsewhere.submit().headers["Location"] == "/intake/done"
    assert len(rows(app, Submission)) == 1


def test_resume_lands_on_a_step_left_incomplete_with_its_partial_answers(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="anxiety")
    patient.post("/intake/anxiety", {"gad7_1": "3", "gad7_2": "1"}, action="save")
    token = _link(patient, "/intake/saved")
    elsewhere = _new_patient(app)
    assert elsewhere.resume(token).headers["Location"] == "/intake/anxiety"
    assert page(elsewhere.get("/intake/anxiety")).shown() == {"gad7_1": ["3"], "gad7_2": ["1"]}


def test_resume_of_a_complete_form_lands_on_review(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    token = _link(patient, "/intake/review")
    elsewhere = _new_patient(app)
    assert elsewhere.resume(token).headers["Location"] == "/intake/review"
    assert elsewhere.get("/intake/review").status_code == 200


def test_resume_in_the_same_browser_replaces_another_form_once_confirmed(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    mine = _link(patient)
    other = _new_patient(app)
    other.answer_all(until="sleep")
    theirs = _link(other)
    assert patient.resume(theirs).status_code == 200  # asks first: tests/test_shared_device.py
    assert patient.post("/resume", {}, action="open").headers["Location"] == "/intake/sleep"
    assert page(patient.get("/intake/sleep")).resume_token() == theirs
    assert patient.resume(mine).status_code == 200
    assert patient.post("/resume", {}, action="open").headers["Location"] == "/intake/pain"


def test_both_browsers_share_one_draft(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    elsewhere = _new_patient(app)
    elsewhere.resume(_link(patient))
    elsewhere.answer("pain")
    assert patient.get("/intake/symptoms").status_code == 200
    assert page(patient.get("/intake/pain")).shown() == _expected_shown("pain")
    assert len(rows(app, Draft)) == 1


@pytest.mark.parametrize(
    "token",
    [
        "A" * 43,
        "x",
        "not-a-token",
        "a" * 500,
    ],
)
def test_an_unknown_token_gives_a_404_page(app: Flask, patient: Patient, token: str) -> None:
    patient.answer_all(until="pain")
    before = only_draft(app).steps
    response = patient.client.get(f"/resume/{token}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We could not find a saved form for this link" in html
    assert "You can start a new form" in html
    assert "not monitored in real time" in html
    assert only_draft(app).steps == before
    # The patient's own form is still theirs.
    assert patient.get("/intake/pain").status_code == 200


def test_an_expired_link_gives_a_410_page(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    token = _link(patient)
    _expire(app)
    response = _new_patient(app).client.get(f"/resume/{token}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This saved form has expired" in html
    assert "Please start a new form" in html
    assert 'href="/"' in html


def test_an_expired_draft_in_the_browser_session_gives_a_410_page_then_a_fresh_start(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all(until="pain")
    _expire(app)
    response = patient.get("/intake/pain")
    assert response.status_code == 410
    assert "This saved form has expired" in response.get_data(as_text=True)
    # The dead link is forgotten: the patient can start again.
    welcome = page(patient.get("/"))
    assert welcome.status == 200
    assert welcome.shown() == {}
    assert patient.get("/intake/pain").headers["Location"] == "/"


def test_a_draft_just_before_its_expiry_still_opens(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    token = _link(patient)
    _expire(app, datetime.now(UTC) + timedelta(minutes=5))
    assert _new_patient(app).resume(token).headers["Location"] == "/intake/pain"


# --- Purging expired drafts -----------------------------------------------------------------------------------


def test_purge_drafts_deletes_expired_drafts_only_and_writes_an_audit_event(app: Flask, runner: FlaskCliRunner) -> None:
    now = datetime.now(UTC)
    with new_session(app) as session:
        for name, expires in (
            ("old", now - timedelta(days=1)),
            ("older", now - timedelta(days=30)),
            ("live", now + timedelta(days=1)),
        ):
            session.add(
                Draft(
                    token_hash=hashlib.sha256(name.encode()).hexdigest(),
                    created_at=now,
                    updated_at=now,
                    expires_at=expires,
                    steps={"age": [["age", "40"]]},
                )
            )
        session.commit()
    result = runner.invoke(args=["purge-drafts"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 expired draft(s)." in result.output
    remaining = rows(app, Draft)
    assert [draft.token_hash for draft in remaining] == [hashlib.sha256(b"live").hexdigest()]
    events = rows(app, AuditEvent)
    assert len(events) == 1
    assert events[0].action == "drafts.purged"
    assert events[0].actor == "cli"
    assert events[0].subject_type == "draft"
    assert events[0].details == {"count": 2}
    # Running it again deletes nothing, and says so.
    again = runner.invoke(args=["purge-drafts"])
    assert "Deleted 0 expired draft(s)." in again.output
    assert len(rows(app, Draft)) == 1
    assert [event.details for event in rows(app, AuditEvent)] == [{"count": 2}, {"count": 0}]


def test_purging_the_draft_of_a_submission_keeps_the_submission(
    app: Flask, patient: Patient, runner: FlaskCliRunner
) -> None:
    patient.answer_all()
    patient.submit()
    reference = rows(app, Submission)[0].reference
    _expire(app)
    assert "Deleted 1 expired draft(s)." in runner.invoke(args=["purge-drafts"]).output
    assert rows(app, Draft) == []
    [submission] = rows(app, Submission)
    assert submission.reference == reference
    assert submission.draft_id is None


def test_a_purged_draft_cannot_be_resumed(app: Flask, patient: Patient, runner: FlaskCliRunner) -> None:
    patient.answer_all(until="pain")
    token = _link(patient)
    _expire(app)
    runner.invoke(args=["purge-drafts"])
    assert _new_patient(app).client.get(f"/resume/{token}").status_code == 404


# --- Under 18: nothing is kept ------------------------------------------------------------------------------


@pytest.mark.parametrize("age", ["17", "1"])
def test_under_18_shows_the_adults_only_page_and_stores_nothing(app: Flask, patient: Patient, age: str) -> None:
    patient.answer_all(until="age")
    response = patient.answer("age", {"age": age})
    assert response.status_code == 302
    assert response.headers["Location"] == "/adults-only"
    assert age not in response.headers["Location"]
    adults = page(patient.get("/adults-only"))
    assert adults.status == 200
    assert "adults aged 18 and over" in adults.html
    assert "we have not kept any of your answers" in adults.html
    assert 'href="tel:988"' in adults.html and 'href="tel:911"' in adults.html
    assert adults.html.index("tel:988") < adults.html.index("site-footer")  # in the page, not only the footer
    assert rows(app, Draft) == []
    # The session was cleared: even the consent is forgotten.
    with patient.client.session_transaction() as cookie:
        assert dict(cookie) == {}
    assert patient.get("/intake/age").headers["Location"] == "/"
    assert page(patient.get("/")).shown() == {}


def test_changing_the_age_to_17_from_review_deletes_the_draft(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    token = _link(patient, "/intake/review")
    assert len(rows(app, Draft)) == 1
    response = patient.post("/intake/age", {"age": "17", "return_to": "review"})
    assert response.headers["Location"] == "/adults-only"
    assert rows(app, Draft) == []
    with patient.client.session_transaction() as cookie:
        assert dict(cookie) == {}
    assert patient.get("/intake/review").headers["Location"] == "/"
    assert _new_patient(app).client.get(f"/resume/{token}").status_code == 404


def test_going_back_with_an_age_under_18_also_stops(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    response = patient.answer("age", {"age": "16"}, action="back")
    assert response.headers["Location"] == "/adults-only"
    assert rows(app, Draft) == []


def test_age_18_is_an_adult(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="age")
    assert patient.answer("age", {"age": "18"}).headers["Location"] == "/intake/about"
    assert only_draft(app).steps["age"] == [["age", "18"]]
