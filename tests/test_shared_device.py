"""A shared device (a family computer, a clinic tablet): what the next person in the same browser can see.

The confirmation is shown once, then the browser's session forgets the submission; "Finish and clear this
page" clears it at once. A patient's session idle for PATIENT_IDLE_MINUTES forgets the draft (the resume link
still opens it). A resume link opened while the browser holds another form or a signed-in clinic session asks
first, and a clinic session that ended never sends the link's token to the sign-in page.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient

from screening.models import Draft
from screening.models import Submission

from .accounts import Auth
from .patient import DEFAULT_ANSWERS
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import rows
from .conftest import Clock
from .test_auth import audit_rows

REFERENCE = re.compile(r'id="reference-code">\s*([^<\s]+)\s*<')
STATUS_LINK = re.compile(r"/status/[A-Za-z0-9_-]+")
PATIENT_KEYS = {"draft_token", "status_token", "pending_steps", "resume_token", "patient_seen"}


def _new_patient(app: Flask) -> Patient:
    """Return a patient in a browser of their own."""
    return Patient(app.test_client())


def _link(patient: Patient, path: str = "/intake/about") -> str:
    """Return the resume token shown on a page of the patient's form."""
    token = page(patient.get(path)).resume_token()
    assert token is not None
    return token


def _cookie(client: FlaskClient) -> dict[str, object]:
    """Return what the browser's session cookie holds."""
    with client.session_transaction() as session:
        return dict(session)


def _send(patient: Patient, overrides: dict[str, dict[str, str]] | None = None) -> str:
    """Answer every step and send; return the reference the confirmation shows."""
    patient.answer_all(overrides)
    assert patient.submit().headers["Location"] == "/intake/done"
    done = patient.get("/intake/done")
    assert done.status_code == 200
    found = REFERENCE.search(done.get_data(as_text=True))
    assert found is not None
    return found.group(1)


# --- The confirmation is shown once ---------------------------------------------------------------------


def test_after_the_confirmation_the_next_visitor_gets_a_new_form(app: Flask, patient: Patient) -> None:
    reference = _send(patient)
    welcome = patient.get("/")
    html = welcome.get_data(as_text=True)
    assert welcome.status_code == 200
    assert reference not in html and "/status/" not in html and "We have received your answers" not in html
    assert page(welcome).shown() == {}
    for path in ("/intake/done", "/intake/review", "/intake/history"):
        assert patient.get(path).headers["Location"] == "/", path
    assert not PATIENT_KEYS & set(_cookie(patient.client))
    # The next visitor starts and sends a form of their own.
    assert _send(patient) != reference
    assert len(rows(app, Submission)) == 2


def test_the_status_link_is_shown_only_once(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    first = patient.get("/intake/done").get_data(as_text=True)
    assert STATUS_LINK.search(first)
    assert "shown only this once" in first
    assert patient.get("/intake/done").headers["Location"] == "/"
    assert "status_token" not in _cookie(patient.client)


def test_a_double_submit_before_the_confirmation_stores_one_and_shows_it(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    assert patient.submit().headers["Location"] == "/intake/done"
    html = patient.get("/intake/done").get_data(as_text=True)
    assert REFERENCE.search(html) and STATUS_LINK.search(html)
    assert len(rows(app, Submission)) == 1
    # Back to the review page and "Send" again after the confirmation: nothing new, a fresh start.
    assert patient.submit().headers["Location"] == "/"
    assert len(rows(app, Submission)) == 1


def test_the_safety_confirmation_keeps_its_crisis_resources_and_offers_to_finish(patient: Patient) -> None:
    patient.answer_all({"mood": {**DEFAULT_ANSWERS["mood"], "phq9_9": "2"}})  # type: ignore[dict-item]
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    assert 'class="crisis"' in html and 'href="tel:988"' in html
    assert html.index('class="crisis"') < html.index('id="reference-code"')
    assert "Finish and clear this page" in html
    # The next visitor sees none of it.
    welcome = patient.get("/").get_data(as_text=True)
    assert 'class="crisis"' not in welcome and "reference-code" not in welcome


# --- Finish and clear this page ------------------------------------------------------------------------


def test_finish_and_clear_lands_on_a_fresh_start_and_the_cookie_holds_nothing(app: Flask, patient: Patient) -> None:
    reference = _send(patient)  # a first patient
    patient.answer_all()  # and the next one
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    assert 'action="/intake/finish"' in html and 'name="csrf_token"' in html
    finished = patient.post("/intake/finish", {}, action="finish")
    assert finished.status_code == 302 and finished.headers["Location"] == "/"
    cookie = _cookie(patient.client)
    assert not PATIENT_KEYS & set(cookie)
    stored = json.dumps(cookie, default=str)
    second = rows(app, Submission)[-1].reference
    for secret in (reference, second, "sertraline", "fibromyalgia"):
        assert secret not in stored
    assert page(patient.get("/")).shown() == {}


def test_finish_and_clear_forgets_a_form_not_yet_sent(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    assert patient.post("/intake/finish", {}, action="finish").headers["Location"] == "/"
    assert not PATIENT_KEYS & set(_cookie(patient.client))
    assert patient.get("/intake/pain").headers["Location"] == "/"
    assert len(rows(app, Draft)) == 1  # its resume link still opens it


def test_finish_and_clear_needs_the_csrf_token(patient: Patient) -> None:
    patient.answer_all(until="pain")
    assert patient.post("/intake/finish", {}, csrf=False).status_code == 400
    assert patient.get("/intake/pain").status_code == 200


# --- An idle patient session forgets the draft -----------------------------------------------------------


def test_an_idle_patient_session_forgets_the_draft_and_the_link_still_opens_it(
    app: Flask, patient: Patient, clock: Clock
) -> None:
    assert app.config["PATIENT_IDLE_MINUTES"] == 30
    patient.answer_all(until="pain")
    token = _link(patient)
    clock.advance(minutes=29)
    assert patient.get("/intake/pain").status_code == 200  # still in use: the idle time starts again
    clock.advance(minutes=29)
    assert patient.get("/intake/pain").status_code == 200
    clock.advance(minutes=31)
    assert patient.get("/intake/pain").headers["Location"] == "/"
    assert not PATIENT_KEYS & set(_cookie(patient.client))
    assert page(patient.get("/")).shown() == {}
    # The draft is kept: its link opens it again, in this browser or another.
    assert patient.get(f"/resume/{token}").headers["Location"] == "/resume"
    assert patient.get("/resume").headers["Location"] == "/intake/pain"
    assert page(patient.get("/intake/about")).shown()["sex_at_birth"] == ["female"]


def test_the_idle_time_is_a_setting_and_forgets_consent_given_before_the_draft(
    app: Flask, patient: Patient, clock: Clock
) -> None:
    app.config["PATIENT_IDLE_MINUTES"] = 5
    patient.answer("welcome")
    assert patient.get("/intake/age").status_code == 200
    clock.advance(minutes=6)
    assert patient.get("/intake/age").headers["Location"] == "/"
    assert "pending_steps" not in _cookie(patient.client)


def test_an_idle_session_forgets_the_confirmation_not_yet_shown(app: Flask, patient: Patient, clock: Clock) -> None:
    patient.answer_all()
    patient.submit()  # and the tab is closed before the confirmation loads
    clock.advance(minutes=31)
    assert patient.get("/").status_code == 200
    assert patient.get("/intake/done").headers["Location"] == "/"


# --- Opening a resume link ------------------------------------------------------------------------------


def test_a_resume_link_leaves_the_address_bar_and_opens_directly_when_nothing_is_held(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all(until="mood")
    token = _link(patient)
    elsewhere = _new_patient(app)
    response = elsewhere.get(f"/resume/{token}")
    assert response.status_code == 302 and response.headers["Location"] == "/resume"
    assert _cookie(elsewhere.client)["resume_token"] == token
    opened = elsewhere.get("/resume")
    assert opened.headers["Location"] == "/intake/mood"
    assert "resume_token" not in _cookie(elsewhere.client)
    assert page(elsewhere.get("/intake/mood")).resume_token() == token


def test_opening_the_form_this_browser_already_holds_asks_nothing(patient: Patient) -> None:
    patient.answer_all(until="mood")
    token = _link(patient)
    patient.get(f"/resume/{token}")
    assert patient.get("/resume").headers["Location"] == "/intake/mood"


def test_a_link_to_another_form_asks_first_and_cancelling_keeps_mine(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    mine = _link(patient)
    sender = _new_patient(app)
    sender.answer_all(until="sleep")
    theirs = _link(sender)
    assert patient.get(f"/resume/{theirs}").headers["Location"] == "/resume"
    question = patient.get("/resume")
    assert question.status_code == 200
    html = question.get_data(as_text=True)
    assert "This browser already holds another form started" in html
    assert "open this form anyway?" in html.lower()
    assert theirs not in html and mine not in html
    assert 'name="csrf_token"' in html
    # Nothing changed yet: my own form is still this browser's.
    assert page(patient.get("/intake/pain")).resume_token() == mine
    cancelled = patient.post("/resume", {}, action="cancel")
    assert cancelled.status_code == 302 and "/resume" not in cancelled.headers["Location"]
    assert page(patient.get("/intake/pain")).resume_token() == mine
    assert patient.get("/resume").headers["Location"] == "/"  # the link was dropped
    # My answers go into my draft, never into the sender's.
    patient.answer("pain", {"pain_average": "9"})
    drafts = {draft.id: draft.steps for draft in rows(app, Draft)}
    assert sum(1 for steps in drafts.values() if ["pain_average", "9"] in steps.get("pain", [])) == 1
    assert page(sender.get("/intake/pain")).shown()["pain_average"] == ["6"]


def test_confirming_opens_the_other_form(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    other = _new_patient(app)
    other.answer_all(until="sleep")
    theirs = _link(other)
    patient.get(f"/resume/{theirs}")
    patient.get("/resume")
    opened = patient.post("/resume", {}, action="open")
    assert opened.headers["Location"] == "/intake/sleep"
    assert page(patient.get("/intake/sleep")).resume_token() == theirs
    assert "resume_token" not in _cookie(patient.client)


def test_the_question_shows_when_each_form_was_started(app: Flask, patient: Patient, clock: Clock) -> None:
    clock.moment = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    other = _new_patient(app)
    other.answer_all(until="pain")
    theirs = _link(other)
    clock.advance(hours=3, minutes=10)
    patient.answer_all(until="pain")
    patient.get(f"/resume/{theirs}")
    html = patient.get("/resume").get_data(as_text=True)
    assert "2 March 2026 at 09:15 UTC" in html  # the form of the link
    assert "2 March 2026 at 12:25 UTC" in html  # the form this browser holds


def test_a_dead_form_held_by_the_browser_does_not_ask(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    other = _new_patient(app)
    other.answer_all(until="sleep")
    theirs = _link(other)
    with app.app_context():
        from screening.db import get_session

        db = get_session()
        db.delete(db.get_one(Draft, only_ids(app)[0]))
        db.commit()
    patient.get(f"/resume/{theirs}")
    assert patient.get("/resume").headers["Location"] == "/intake/sleep"


def only_ids(app: Flask) -> list[int]:
    """Return the ids of the drafts, oldest first."""
    return [draft.id for draft in rows(app, Draft)]


def test_answering_the_question_needs_the_csrf_token(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    mine = _link(patient)
    other = _new_patient(app)
    other.answer_all(until="sleep")
    patient.get(f"/resume/{_link(other)}")
    assert patient.post("/resume", {}, action="open", csrf=False).status_code == 400
    assert page(patient.get("/intake/pain")).resume_token() == mine


def test_the_question_without_a_link_goes_to_the_start(patient: Patient) -> None:
    assert patient.get("/resume").headers["Location"] == "/"
    assert patient.post("/resume", {}, action="open").headers["Location"] == "/"


def test_a_dead_link_at_the_question_says_so(app: Flask, patient: Patient) -> None:
    other = _new_patient(app)
    other.answer_all(until="pain")
    theirs = _link(other)
    patient.answer_all(until="age")
    patient.get(f"/resume/{theirs}")
    with app.app_context():
        from screening.db import get_session

        db = get_session()
        db.delete(db.get_one(Draft, only_draft(app).id))
        db.commit()
    assert patient.get("/resume").status_code == 404
    assert "resume_token" not in _cookie(patient.client)


# --- A signed-in clinic session ------------------------------------------------------------------------------


def test_a_signed_in_clinic_user_is_asked_and_cancelling_keeps_them_signed_in(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    token = _link(_started(app))
    physician = auth.login_as("physician")
    patient = Patient(client)
    assert patient.get(f"/resume/{token}").headers["Location"] == "/resume"
    html = patient.get("/resume").get_data(as_text=True)
    assert f"You are signed in as {physician.email}" in html
    assert "open this form anyway?" in html.lower()
    assert client.get("/review/").status_code == 200
    patient.post("/resume", {}, action="cancel")
    assert client.get("/review/").status_code == 200
    assert audit_rows(app, "auth.signed_out") == []


def test_confirming_signs_the_clinic_user_out_audited_and_opens_the_form(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    token = _link(_started(app))
    physician = auth.login_as("physician")
    patient = Patient(client)
    patient.get(f"/resume/{token}")
    patient.get("/resume")
    assert patient.post("/resume", {}, action="open").headers["Location"] == "/intake/pain"
    assert client.get("/review/").headers["Location"].startswith("/login")
    [event] = audit_rows(app, "auth.signed_out")
    assert (event.actor, event.subject_id, event.details) == (
        f"user:{physician.id}",
        physician.id,
        {"reason": "resume_link"},
    )
    assert token not in json.dumps(event.details)
    assert page(patient.get("/intake/pain")).resume_token() == token


def test_the_sign_out_button_gives_its_reason(app: Flask, auth: Auth) -> None:
    auth.login_as("admin")
    auth.logout()
    [event] = audit_rows(app, "auth.signed_out")
    assert event.details == {"reason": "sign_out_button"}


def test_an_ended_clinic_session_never_sends_the_token_to_the_sign_in_page(
    app: Flask, client: FlaskClient, auth: Auth, clock: Clock
) -> None:
    token = _link(_started(app))
    auth.login_as("physician")
    clock.advance(minutes=16)  # the clinic session is idle past SESSION_IDLE_MINUTES
    response = client.get(f"/resume/{token}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/resume"
    assert token not in response.headers["Location"]
    assert [event.details for event in audit_rows(app, "auth.session_expired")] == [{"reason": "idle"}]
    # Nothing is held any more: the form opens directly, and the sign-in page never saw the token.
    assert client.get("/resume").headers["Location"] == "/intake/pain"
    assert token not in client.get("/login").get_data(as_text=True)


def _started(app: Flask) -> Patient:
    """Return a patient of another browser with a form saved up to the pain step."""
    other = _new_patient(app)
    other.answer_all(until="pain")
    return other


def test_the_idle_time_of_a_pending_link_forgets_it(app: Flask, patient: Patient, clock: Clock) -> None:
    patient.answer_all(until="pain")
    theirs = _link(_started(app))
    patient.get(f"/resume/{theirs}")
    clock.advance(minutes=31)
    assert patient.get("/resume").headers["Location"] == "/"
    assert not PATIENT_KEYS & set(_cookie(patient.client))
