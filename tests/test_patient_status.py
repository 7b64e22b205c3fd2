"""The patient's private status link: shown once at submit, states in plain words, patient notes only, 404, no logs."""

from __future__ import annotations

import http.client
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import orm
from werkzeug.serving import make_server

from screening.db import new_session
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.patient.status.service import hash_status_token
from screening.security import redact

from .accounts import Users
from .patient import FOOTER_NOTICE
from .patient import Patient
from .patient import page
from .patient import rows

STATUS_LINK = re.compile(r'id="status-link">https://screening.clinic.example/status/([A-Za-z0-9_-]+)<')
#: From the physician note of the rule that makes the default patient a candidate.
PHYSICIAN_NOTE_FROM_RULES = "Physician to verify"


def submit(patient: Patient, overrides: dict[str, dict[str, str]] | None = None) -> str:
    """Walk the wizard, send the answers and return the status token the confirmation page shows."""
    return submit_and_confirm(patient, overrides)[0]


def submit_and_confirm(patient: Patient, overrides: dict[str, dict[str, str]] | None = None) -> tuple[str, str]:
    """Walk the wizard, send the answers; return the status token and the confirmation page (shown only once)."""
    patient.answer_all(overrides)
    assert patient.submit().headers["Location"] == "/intake/done"
    done = patient.get("/intake/done").get_data(as_text=True)
    found = STATUS_LINK.search(done)
    assert found is not None, "no status link on the confirmation page"
    return found.group(1), done


def only_submission(app: Flask) -> Submission:
    """Return the one submission in the database."""
    (submission,) = rows(app, Submission)
    return submission


def state_on(client: FlaskClient, token: str) -> str | None:
    """Return the status the page shows, in the patient's words."""
    response = client.get(f"/status/{token}")
    assert response.status_code == 200
    return page(response).text_of("status-state")


class Physician:
    """A physician acting on submissions through the review service, one transaction per action."""

    def __init__(self, app: Flask, users: Users) -> None:
        self.app = app
        self.user_id = users.create("physician").id
        self.now = datetime.now(UTC)

    def _run(self, action: Callable[[orm.Session, User, datetime], object]) -> None:
        """Run one review action a minute after the last one, and commit it."""
        self.now += timedelta(minutes=1)
        with new_session(self.app) as session:
            action(session, session.get_one(User, self.user_id), self.now)
            session.commit()

    def claim(self, submission_id: int) -> None:
        self._run(lambda session, user, now: service.claim(session, submission_id, user, now))

    def release(self, submission_id: int) -> None:
        self._run(lambda session, user, now: service.release(session, submission_id, user, now))

    def decide(self, submission_id: int, note: str, *, for_patient: bool) -> None:
        self._run(
            lambda session, user, now: service.decide(session, submission_id, user, "consult", note, for_patient, now)
        )

    def reopen(self, submission_id: int) -> None:
        self._run(lambda session, user, now: service.reopen(session, submission_id, user, now))


@pytest.fixture()
def physician(app: Flask, users: Users) -> Physician:
    """Return a physician who claims, decides and reopens."""
    return Physician(app, users)


def test_the_confirmation_page_offers_the_private_status_link(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    done = page(patient.get("/intake/done"))
    assert done.text_of("status-heading") == "Check the status of your request"
    assert "Keep it private" in done.html
    found = STATUS_LINK.search(done.html)
    assert found is not None
    token = found.group(1)
    submission = only_submission(app)
    assert submission.status_token_hash == hash_status_token(token) != token
    assert len(token) >= 43  # 256 random bits
    assert token not in str(submission.answers) + str(submission.scores)


def test_a_double_submit_keeps_the_first_link(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    assert patient.submit().headers["Location"] == "/intake/done"
    stored = only_submission(app).status_token_hash
    assert patient.submit().headers["Location"] == "/intake/done"  # pressed twice, before the confirmation
    found = STATUS_LINK.search(patient.get("/intake/done").get_data(as_text=True))
    assert found is not None and hash_status_token(found.group(1)) == stored
    assert only_submission(app).status_token_hash == stored
    assert state_on(patient.client, found.group(1)) == "Received"
    # Sent again after the confirmation (the back button): nothing new, and the link is not shown again.
    assert patient.submit().headers["Location"] == "/"
    assert patient.get("/intake/done").headers["Location"] == "/"
    assert only_submission(app).status_token_hash == stored


def test_another_browser_resuming_the_draft_gets_no_link(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="history")
    resume = page(patient.get("/intake/history")).resume_token()
    assert resume is not None
    patient.answer("history")
    patient.answer("contact")
    assert patient.submit().headers["Location"] == "/intake/done"
    assert STATUS_LINK.search(patient.get("/intake/done").get_data(as_text=True)) is not None
    other = Patient(app.test_client())
    assert other.resume(resume).headers["Location"] == "/intake/done"
    html = other.get("/intake/done").get_data(as_text=True)
    assert 'id="reference-code"' in html and STATUS_LINK.search(html) is None  # only the sender saw it


def test_the_page_follows_the_review(app: Flask, patient: Patient, physician: Physician) -> None:
    token = submit(patient)
    submission = only_submission(app)
    status = page(patient.client.get(f"/status/{token}"))
    assert status.text_of("status-reference") == submission.reference
    assert status.text_of("status-submitted") == f"{submission.submitted_at.day} {submission.submitted_at:%B %Y}"
    assert status.text_of("status-state") == "Received"
    physician.claim(submission.id)
    assert state_on(patient.client, token) == "Under review"
    physician.release(submission.id)
    assert state_on(patient.client, token) == "Under review"  # a clinician has looked at it
    physician.decide(submission.id, "Invite to a consultation.", for_patient=False)
    assert state_on(patient.client, token) == "A clinician will contact you"
    physician.reopen(submission.id)
    assert state_on(patient.client, token) == "Under review"


def test_notes_are_shown_only_when_marked_for_the_patient(
    app: Flask, client: FlaskClient, patient: Patient, physician: Physician
) -> None:
    token = submit(patient)
    submission_id = only_submission(app).id
    private = "Private: check her blood pressure history before the call."
    physician.decide(submission_id, private, for_patient=False)
    html = client.get(f"/status/{token}").get_data(as_text=True)
    assert private not in html and "A note from your clinician" not in html
    assert PHYSICIAN_NOTE_FROM_RULES not in html  # the rules' physician notes never reach the patient
    physician.reopen(submission_id)
    shared = "We will call you this week <script>alert(1)</script> to book a visit."
    physician.decide(submission_id, shared, for_patient=True)
    status = page(client.get(f"/status/{token}"))
    assert status.text_of("status-notes-heading") == "A note from your clinician"
    assert "We will call you this week &lt;script&gt;alert(1)&lt;/script&gt; to book a visit." in status.html
    assert "<script>alert(1)" not in status.html and private not in status.html
    physician.reopen(submission_id)
    assert "We will call you" not in client.get(f"/status/{token}").get_data(as_text=True)  # a withdrawn note


def test_every_status_page_carries_the_crisis_footer_and_safety_cases_the_resources(
    client: FlaskClient, patient: Patient
) -> None:
    token = submit(patient, {"mood": {"phq9_9": "1"}})
    html = client.get(f"/status/{token}").get_data(as_text=True)
    assert FOOTER_NOTICE in html
    assert 'id="crisis-heading"' in html and 'href="tel:988"' in html


def test_a_status_page_without_safety_has_the_footer_only(client: FlaskClient, patient: Patient) -> None:
    html = client.get(f"/status/{submit(patient)}").get_data(as_text=True)
    assert FOOTER_NOTICE in html and 'id="crisis-heading"' not in html


@pytest.mark.parametrize("token", ["unknown", "A" * 43, "a-b_c"])
def test_an_unknown_token_gets_the_404_page(client: FlaskClient, patient: Patient, token: str) -> None:
    submit(patient)
    response = client.get(f"/status/{token}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We could not find this submission" in html and FOOTER_NOTICE in html
    assert 'id="status-reference"' not in html


def test_the_status_page_is_never_cached_nor_referred(client: FlaskClient, patient: Patient) -> None:
    response = client.get(f"/status/{submit(patient)}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_redact_covers_status_tokens() -> None:
    token = "KC3p1huv91GVl1vLbrzMeFWdt_ecCKB481IRdM3QNXY"
    assert redact(f"GET /status/{token} HTTP/1.1") == "GET /status/[redacted] HTTP/1.1"
    assert redact(f"http://localhost/status/{token}?x=1") == "http://localhost/status/[redacted]?x=1"
    assert redact("GET /review/?status=open HTTP/1.1") == "GET /review/?status=open HTTP/1.1"


def test_the_token_never_reaches_the_logs(app: Flask, patient: Patient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="werkzeug")
    token = submit(patient)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in (f"/status/{token}", f"/status/{token[:-2]}xx"):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            try:
                connection.request("GET", path)
                connection.getresponse().read()
            finally:
                connection.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/status/[redacted]" in line and " 200 " in line for line in lines), lines
    assert any("/status/[redacted]" in line and " 404 " in line for line in lines), lines
    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert token not in logged and token[:-2] not in logged
