"""The decision reaches the patient: a physician's consult, decline or request for information sends an e-mail.

A real local SMTP server receives every message; tasks run at once (or in a real consumer process). The patient's
address is never stored with the message, never in an audit row, and no message holds answers or scores.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from huey import Huey

import screening.queues
from screening import messaging
from screening.contacts.details import ContactDetails
from screening.contacts.service import store_contact
from screening.db import engine_for
from screening.db import new_session
from screening.messaging import service as messages
from screening.models import AuditEvent
from screening.models import PatientMessage
from screening.models import Submission
from screening.queues import huey_for

from .accounts import Auth
from .accounts import Users
from .conftest import CLINIC
from .conftest import make_app
from .consumers import sending_env
from .consumers import start_consumer
from .consumers import stop_consumers
from .consumers import wait_until
from .mail import SMTPServer
from .mail import body_of
from .patient import Patient
from .patient import rows

ADDRESS = "pat.example@patients.example"
BOOKING = "Book your consultation online at https://clinic.example/book or call us."
NOTE = "Your answers suggest that another treatment suits you better; your own doctor can advise you."
#: Words of the patient's answers and of the scores: none of them may reach a message.
ANSWER_WORDS = (
    "sertraline",
    "duloxetine",
    "fibromyalgia",
    "depression",
    "PHQ",
    "GAD",
    "Insomnia",
    "score",
    "moderately severe",
    "candidate",
    "eligible",
)

AppFactory = Callable[..., Flask]


@pytest.fixture()
def message_app(app: Flask) -> Iterator[AppFactory]:
    """Return a factory of apps on the ``app`` fixture's database sending patient messages to ``server``."""
    made: list[Flask] = []

    def build(server: SMTPServer, **config: Any) -> Flask:
        settings = {
            "HUEY_IMMEDIATE": True,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": server.port,
            "SMTP_FROM": "screening@clinic.example",
            "SMTP_TIMEOUT": 5,
            "CLINIC_BOOKING": BOOKING,
            **config,
        }
        made.append(make_app(app.config["DATABASE_URL"], **settings))
        return made[-1]

    yield build
    for built in made:
        engine_for(built).dispose()


def give_contact(app: Flask, submission_id: int, address: str | None, *, consent: bool = True) -> None:
    """Store the patient's contact details, encrypted, as the intake's contact step does."""
    details = ContactDetails(
        preferred_name=None,
        email=address,
        phone=None if address else "+12125550187",
        preferred_method="email" if address else "phone",
        preferred_time="any",
        state="NY",
        consent=consent,
        consent_version="test",
    )
    with new_session(app) as session:
        store_contact(session, app.config, session.get_one(Submission, submission_id), details)
        session.commit()


def submit_candidate(app: Flask, address: str | None = ADDRESS, *, consent: bool = True) -> Submission:
    """Walk the wizard as a candidate patient who gave ``address`` (None: a phone number only)."""
    patient = Patient(app.test_client())
    patient.answer_all()
    assert patient.submit().headers["Location"] == "/intake/done"
    [submission] = rows(app, Submission)
    give_contact(app, submission.id, address, consent=consent)
    return submission


def physician(app: Flask) -> Auth:
    """Return a physician signed in on a client of ``app``."""
    auth = Auth(app.test_client(), Users(app))
    auth.login_as("physician")
    return auth


def decide(auth: Auth, submission: Submission, decision: str, note: str = NOTE, *, for_patient: bool = False) -> None:
    """Record ``decision`` through the page's form."""
    data = {"decision": decision, "note": note, **({"note_for_patient": "y"} if for_patient else {})}
    response = auth.post(f"/review/submissions/{submission.id}/decide", data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/submissions/{submission.id}"


def page_of(auth: Auth, submission: Submission) -> str:
    """Return the physician's page of ``submission``."""
    response = auth.client.get(f"/review/submissions/{submission.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def run_retry(huey: Huey) -> None:
    """Take the one retry waiting in the schedule and run it, as the consumer does once its wait is over."""
    [waiting] = huey.scheduled()
    [due] = huey.read_schedule(waiting.eta)
    huey.execute(due, timestamp=waiting.eta)


def message_events(app: Flask) -> list[AuditEvent]:
    """Return the audit events about patient messages."""
    return [event for event in rows(app, AuditEvent) if event.action.startswith("patient_message.")]


def without_clinic_facts(text: str, submission: Submission) -> str:
    """Return ``text`` without the reference and the clinic's own contact details (which hold digits)."""
    for fact in (submission.reference, "(212) 555-0123", "+12125550123", "212 555 0123", "10001", "Suite 4"):
        text = text.replace(fact, "")
    for line in (*CLINIC["CLINIC_ADDRESS"].splitlines(), CLINIC["CLINIC_HOURS"]):
        text = text.replace(line, "")
    return text


# --- Wording --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "subject", "says"),
    [
        ("consult", "Your invitation to a consultation", BOOKING),
        ("decline", "About your screening request", "thank you for"),
        ("request_info", "Please get in touch with us", "please contact us"),
    ],
)
def test_each_decision_sends_its_own_message_with_the_clinic_and_the_reference_only(
    message_app: AppFactory, smtp: SMTPServer, decision: str, subject: str, says: str
) -> None:
    app = message_app(smtp)
    submission = submit_candidate(app)
    decide(physician(app), submission, decision)
    [received] = smtp.messages
    assert received.rcpt_tos == [ADDRESS]
    assert received.mail_from == "screening@clinic.example"
    message = received.message
    assert message["Subject"] == f"{subject} ({submission.reference})"
    assert message["To"] == ADDRESS
    assert message["Reply-To"] == CLINIC["CLINIC_EMAIL"]
    body = body_of(received)
    assert says.lower() in body.lower()
    for fact in (submission.reference, CLINIC["CLINIC_NAME"], "(212) 555-0123", CLINIC["CLINIC_EMAIL"]):
        assert fact in body, fact
    assert "988" in body  # the crisis line, as on every patient page
    whole = message.as_string()
    for word in ANSWER_WORDS:
        assert word.lower() not in whole.lower(), word
    assert NOTE not in whole  # not marked for the patient
    assert "/status/" not in whole and "token" not in whole.lower()  # no private status link
    # Beyond the reference, the clinic's details and the crisis line the body holds no number: no score, age, dose.
    assert not re.search(r"\d", without_clinic_facts(body, submission).replace("988", "").replace("911", "")), body
    if decision != "consult":
        assert BOOKING not in body


def test_the_decline_carries_the_physicians_note_only_when_marked_for_the_patient(
    message_app: AppFactory, smtp: SMTPServer
) -> None:
    app = message_app(smtp)
    auth = physician(app)
    submission = submit_candidate(app)
    decide(auth, submission, "decline", for_patient=True)
    assert NOTE in body_of(smtp.messages[0])
    assert auth.post(f"/review/submissions/{submission.id}/reopen").status_code == 302
    decide(auth, submission, "decline", "An internal reason for colleagues only.")
    assert len(smtp.messages) == 2
    assert "internal reason" not in smtp.messages[1].message.as_string()
    assert NOTE not in smtp.messages[1].message.as_string()


def test_a_safety_follow_up_sends_the_patient_nothing(message_app: AppFactory, smtp: SMTPServer) -> None:
    app = message_app(smtp, ALERT_RECIPIENTS=[])
    patient = Patient(app.test_client())
    patient.answer_all({"mood": {"phq9_9": "1"}})
    patient.submit()
    [submission] = rows(app, Submission)
    give_contact(app, submission.id, ADDRESS)
    decide(physician(app), submission, "safety_followup_done", "Called back; safe.")
    assert smtp.messages == []
    assert rows(app, PatientMessage) == []


# --- The record -----------------------------------------------------------------------------------


def test_the_sent_message_is_recorded_without_the_address_and_audited_with_ids_only(
    message_app: AppFactory, smtp: SMTPServer
) -> None:
    app = message_app(smtp)
    auth = physician(app)
    submission = submit_candidate(app)
    decide(auth, submission, "consult")
    [message] = rows(app, PatientMessage)
    assert (message.submission_id, message.kind, message.status, message.attempts) == (
        submission.id,
        "consult",
        "sent",
        1,
    )
    assert message.last_error is None
    assert message.sent_at is not None and message.sent_at >= message.created_at
    assert [event.action for event in message_events(app)] == ["patient_message.queued", "patient_message.sent"]
    for event in message_events(app):
        assert (event.subject_type, event.subject_id) == ("patient_message", message.id)
        assert event.details["submission_id"] == submission.id and event.details["kind"] == "consult"
    with engine_for(app).connect() as connection:
        stored = [str(row) for table in ("patient_message", "audit_event") for row in connection.execute(
            sa.text(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        )]  # fmt: skip
    assert not any(ADDRESS in row or "invitation" in row.lower() for row in stored)
    page = page_of(auth, submission)
    assert "Messages to the patient" in page
    assert "Invitation to a consultation" in page
    assert "Sent " in page
    messages = page[page.index('id="messages-heading"') : page.index("</section>", page.index('id="messages-heading"'))]
    assert ADDRESS not in messages  # the address is in the contact panel above, never in what a message records


def test_without_an_email_given_with_consent_nothing_is_sent_and_the_physician_reads_so(
    message_app: AppFactory, smtp: SMTPServer
) -> None:
    app = message_app(smtp)
    auth = physician(app)
    submission = submit_candidate(app, address=None)
    decide(auth, submission, "consult")
    assert smtp.messages == []
    [message] = rows(app, PatientMessage)
    assert (message.status, message.attempts) == ("not_sent", 0)
    assert [event.action for event in message_events(app)] == ["patient_message.queued", "patient_message.not_sent"]
    assert huey_for(app).scheduled() == []  # nothing to retry
    page = page_of(auth, submission)
    assert "Not sent: the patient gave no e-mail address with consent to be contacted" in page


def test_an_email_given_without_consent_is_not_written_to(message_app: AppFactory, smtp: SMTPServer) -> None:
    app = message_app(smtp)
    submission = submit_candidate(app, consent=False)
    decide(physician(app), submission, "request_info")
    assert smtp.messages == []
    assert [message.status for message in rows(app, PatientMessage)] == ["not_sent"]


def test_a_failed_send_is_retried_with_backoff_then_recorded_as_failed_and_shown(
    message_app: AppFactory, smtp_down: SMTPServer
) -> None:
    app = message_app(
        smtp_down, PATIENT_MESSAGE_RETRIES=1, PATIENT_MESSAGE_RETRY_DELAY_SECONDS=30, PATIENT_MESSAGE_RETRY_BACKOFF=2
    )
    auth = physician(app)
    submission = submit_candidate(app)
    decide(auth, submission, "request_info")
    [message] = rows(app, PatientMessage)
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error is not None and message.last_error.startswith("ConnectionRefusedError")
    huey = huey_for(app)
    [retry] = huey.scheduled()
    waits = retry.eta - datetime.now(UTC).replace(tzinfo=None)
    assert 25 < waits.total_seconds() <= 30
    run_retry(huey)  # the server is still down
    assert huey.scheduled() == []  # no retries left
    [message] = rows(app, PatientMessage)
    assert (message.status, message.attempts) == ("failed", 2)
    assert [event.action for event in message_events(app)] == [
        "patient_message.queued",
        "patient_message.failed",
        "patient_message.failed",
    ]
    assert [event.details["attempt"] for event in message_events(app)[1:]] == [1, 2]
    page = page_of(auth, submission)
    assert "Request to get in touch" in page
    assert "Failed after 2 attempts" in page
    assert "ConnectionRefusedError" in page
    assert "Retry 1 failed" in page  # the history names the retry
    assert "will be retried" in page  # the first failure said more was to come


def test_a_retry_that_goes_through_is_recorded_as_sent(message_app: AppFactory, smtp_down: SMTPServer) -> None:
    app = message_app(smtp_down, PATIENT_MESSAGE_RETRIES=2)
    auth = physician(app)
    submission = submit_candidate(app)
    decide(auth, submission, "consult")
    smtp_down.start()
    run_retry(huey_for(app))
    [message] = rows(app, PatientMessage)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    assert len(smtp_down.messages) == 1
    assert "Retry 1 sent" in page_of(auth, submission)


def test_a_decision_reopened_before_its_message_went_out_is_never_sent(
    message_app: AppFactory, smtp_down: SMTPServer
) -> None:
    app = message_app(smtp_down, PATIENT_MESSAGE_RETRIES=2)
    auth = physician(app)
    submission = submit_candidate(app)
    decide(auth, submission, "consult")  # the mail server is down: the invitation waits for its retry
    assert auth.post(f"/review/submissions/{submission.id}/reopen").status_code == 302
    smtp_down.start()
    run_retry(huey_for(app))
    [message] = rows(app, PatientMessage)
    assert message.status == "withdrawn"
    assert smtp_down.messages == []
    assert [event.action for event in message_events(app)][-1] == "patient_message.withdrawn"
    page = page_of(auth, submission)
    assert "Withdrawn: the decision was reopened before the message was sent." in page
    assert "Invitation to a consultation: withdrawn, the decision was reopened" in page


def test_a_refused_recipient_is_described_without_the_address(message_app: AppFactory, smtp: SMTPServer) -> None:
    app = message_app(smtp, PATIENT_MESSAGE_RETRIES=0)
    submission = submit_candidate(app, address="nobody@invalid.example")

    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return f"550 5.1.1 <{address}>: no such user"

    smtp.collector.handle_RCPT = refuse  # type: ignore[attr-defined]
    decide(physician(app), submission, "consult")
    [message] = rows(app, PatientMessage)
    assert message.status == "failed"
    assert message.last_error == "SMTPRecipientsRefused: the mail server refused the recipient (550)"


def test_a_queue_failure_never_breaks_the_physicians_page(
    message_app: AppFactory, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = message_app(smtp)
    auth = physician(app)
    submission = submit_candidate(app)

    def broken(app: Flask, message_id: int) -> None:
        raise ConnectionError("queue storage is down")

    monkeypatch.setattr(messages, "enqueue_message", broken)
    decide(auth, submission, "consult")
    with new_session(app) as session:
        assert session.get_one(Submission, submission.id).status == "decided"
    [message] = rows(app, PatientMessage)
    assert message.status == "failed"
    assert message.last_error == "not queued: ConnectionError"
    assert "Failed after 0 attempts" in page_of(auth, submission)


def test_the_wording_lives_in_one_template_per_kind(message_app: AppFactory, smtp: SMTPServer) -> None:
    app = message_app(smtp)
    loader = app.jinja_env.loader
    assert loader is not None
    for kind in messaging.KINDS:
        source = loader.get_source(app.jinja_env, f"messages/{kind}.txt")[0]
        assert source.startswith("Subject: "), kind


def test_a_real_consumer_process_sends_the_invitation(
    message_app: AppFactory, smtp: SMTPServer, consumer_env: dict[str, str], tmp_path: Path
) -> None:
    env = sending_env(consumer_env, smtp, SCREENING_CLINIC_BOOKING=BOOKING)
    web = message_app(
        smtp, HUEY_IMMEDIATE=False, ENVIRONMENT="development", HUEY_URL=consumer_env["SCREENING_HUEY_URL"]
    )
    auth = physician(web)
    submission = submit_candidate(web)
    decide(auth, submission, "consult")
    assert [message.status for message in rows(web, PatientMessage)] == ["queued"]  # waiting for the consumer
    assert "Waiting to be sent (0 attempts so far)" in page_of(auth, submission)
    consumer = start_consumer((screening.queues.WORK_CONSUMER,), env, tmp_path / "consumer.log")
    try:
        wait_until("the invitation arrives", lambda: bool(smtp.messages), [consumer], 30)
        wait_until("it is recorded", lambda: rows(web, PatientMessage)[0].status == "sent", [consumer], 10)
    finally:
        stop_consumers([consumer])
    [received] = smtp.messages
    assert received.rcpt_tos == [ADDRESS]
    assert received.message["Subject"] == f"Your invitation to a consultation ({submission.reference})"
    assert BOOKING in body_of(received)
    assert "Sent " in page_of(auth, submission)
