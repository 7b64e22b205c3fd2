"""Urgent alerts: a real local SMTP server receives the e-mail; SMTP being down never blocks a submission."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from huey.utils import load_class

import screening.tasks
from screening import alerts
from screening.db import engine_for
from screening.db import new_session
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import Submission
from screening.tasks import huey_for

from .conftest import PRODUCTION_SECRET
from .conftest import make_app
from .patient import Patient
from .patient import rows

RECIPIENTS = ["oncall@clinic.example", "backup@clinic.example"]
BASE_URL = "https://screening.clinic.example"
#: What the patient answered (tests/patient.py defaults): none of it may reach an e-mail.
ANSWERS = ("sertraline", "duloxetine", "fibromyalgia", "depression", "female", "PHQ", "GAD", "score", "phq9")


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message and accept it."""
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be started late, on a port chosen up front."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = Collector()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """Return the messages received so far."""
        return self.collector.messages

    def start(self) -> None:
        """Start listening."""
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening, if it was."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture()
def smtp() -> Iterator[SMTPServer]:
    """Return a running local SMTP server."""
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def smtp_down() -> Iterator[SMTPServer]:
    """Return a server that is not running yet: its port refuses connections until ``start()``."""
    server = SMTPServer()
    yield server
    server.stop()


AppFactory = Callable[..., Flask]


@pytest.fixture()
def alert_app(app: Flask) -> Iterator[AppFactory]:
    """Return a factory of apps on the ``app`` fixture's database, with tasks run at once and alert settings."""
    made: list[Flask] = []

    def build(server: SMTPServer, **config: Any) -> Flask:
        settings = {
            "HUEY_IMMEDIATE": True,
            "ALERT_RECIPIENTS": RECIPIENTS,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": server.port,
            "SMTP_FROM": "screening@clinic.example",
            "SMTP_TIMEOUT": 5,
            "PUBLIC_BASE_URL": BASE_URL + "/",
            **config,
        }
        made.append(make_app(app.config["DATABASE_URL"], **settings))
        return made[-1]

    yield build
    for built in made:
        engine_for(built).dispose()


def submit_safety_case(app: Flask, item9: str = "1") -> Submission:
    """Walk the wizard with PHQ-9 item 9 above 0, submit, and return the stored submission."""
    patient = Patient(app.test_client())
    patient.answer_all({"mood": {"phq9_9": item9}})
    response = patient.submit()
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/done"
    assert 'class="crisis"' in patient.get("/intake/done").get_data(as_text=True)
    [submission] = rows(app, Submission)
    assert submission.safety_flag is True
    return submission


def alert_events(app: Flask) -> list[AuditEvent]:
    """Return the audit events about alerts."""
    return [event for event in rows(app, AuditEvent) if event.action.startswith("alert.")]


def body_of(received: Received) -> str:
    """Return the plain-text body of a received message."""
    part = received.message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def test_a_safety_submission_emails_each_recipient_once_with_the_reference_and_link_only(
    alert_app: AppFactory, smtp: SMTPServer
) -> None:
    app = alert_app(smtp)
    submission = submit_safety_case(app, item9="3")
    assert len(smtp.messages) == 1  # one message, delivered to every recipient
    [received] = smtp.messages
    assert sorted(received.rcpt_tos) == sorted(RECIPIENTS)
    assert received.mail_from == "screening@clinic.example"
    message = received.message
    assert message["Subject"] == f"Urgent: safety review needed ({submission.reference})"
    link = f"{BASE_URL}/review/submissions/{submission.id}"
    body = body_of(received)
    assert submission.reference in body
    assert link in body
    whole = message.as_string()
    for answer in ANSWERS:
        assert answer.lower() not in whole.lower(), answer
    # Beyond the reference and the link the body holds no number at all: no scores, no age, no doses.
    assert not re.search(r"\d", body.replace(submission.reference, "").replace(link, ""))


def test_the_sent_alert_is_recorded_and_audited(alert_app: AppFactory, smtp: SMTPServer) -> None:
    app = alert_app(smtp)
    submission = submit_safety_case(app)
    [alert] = rows(app, Alert)
    assert alert.submission_id == submission.id
    assert alert.status == "sent"
    assert alert.attempts == 1
    assert alert.sent_at is not None and alert.sent_at >= alert.created_at
    assert alert.last_error is None
    [event] = alert_events(app)
    assert (event.action, event.actor, event.subject_type, event.subject_id) == (
        "alert.sent",
        "system",
        "alert",
        alert.id,
    )
    assert event.details == {"submission_id": submission.id, "attempts": 1, "refused": 0}


def test_a_submission_without_safety_concerns_sends_nothing(alert_app: AppFactory, smtp: SMTPServer) -> None:
    app = alert_app(smtp)
    patient = Patient(app.test_client())
    patient.answer_all()
    assert patient.submit().headers["Location"] == "/intake/done"
    assert smtp.messages == []
    assert rows(app, Alert) == []
    assert alert_events(app) == []


def test_submitting_twice_sends_one_alert(alert_app: AppFactory, smtp: SMTPServer) -> None:
    app = alert_app(smtp)
    patient = Patient(app.test_client())
    patient.answer_all({"mood": {"phq9_9": "1"}})
    patient.submit()
    assert patient.submit().headers["Location"] == "/intake/done"
    assert len(rows(app, Alert)) == 1
    assert len(smtp.messages) == 1


def test_with_smtp_down_the_submission_succeeds_and_the_alert_is_retried_later(
    alert_app: AppFactory, smtp_down: SMTPServer
) -> None:
    app = alert_app(smtp_down)
    submission = submit_safety_case(app)
    [alert] = rows(app, Alert)
    assert alert.status == "failed"
    assert alert.attempts == 1
    assert alert.last_error is not None and alert.last_error.startswith("ConnectionRefusedError:")
    assert [event.action for event in alert_events(app)] == ["alert.failed"]
    # The server comes up; the operator re-sends what failed.
    smtp_down.start()
    result = app.test_cli_runner().invoke(args=["alerts", "retry"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 alert(s) again." in result.output
    [alert] = rows(app, Alert)
    assert (alert.status, alert.attempts) == ("sent", 2)
    [received] = smtp_down.messages
    assert submission.reference in received.message["Subject"]
    assert [event.action for event in alert_events(app)] == ["alert.failed", "alert.sent"]
    # Nothing is left to retry, and a second retry sends nothing more.
    assert "Queued 0 alert(s) again." in app.test_cli_runner().invoke(args=["alerts", "retry"]).output
    assert len(smtp_down.messages) == 1


def test_a_failed_send_is_retried_by_huey_with_backoff(alert_app: AppFactory, smtp_down: SMTPServer) -> None:
    app = alert_app(smtp_down, ALERT_RETRIES=3, ALERT_RETRY_DELAY_SECONDS=30, ALERT_RETRY_BACKOFF=2)
    submit_safety_case(app)
    huey = huey_for(app)
    [retry] = huey.scheduled()
    assert retry.retries == 2
    waits = retry.eta - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(seconds=25) < waits <= timedelta(seconds=30)
    assert retry.retry_delay == 60  # the next wait is twice the first
    smtp_down.start()
    huey.execute(retry, timestamp=retry.eta)  # as the consumer does once the wait is over
    [alert] = rows(app, Alert)
    assert (alert.status, alert.attempts) == ("sent", 2)
    assert len(smtp_down.messages) == 1


def test_without_recipients_the_alert_fails_with_a_clear_message(alert_app: AppFactory, smtp: SMTPServer) -> None:
    app = alert_app(smtp, ALERT_RECIPIENTS=[])
    submit_safety_case(app)
    [alert] = rows(app, Alert)
    assert alert.status == "failed"
    assert alert.last_error == "no ALERT_RECIPIENTS configured"
    assert alert.attempts == 1
    assert huey_for(app).scheduled() == []  # retrying cannot help until someone sets recipients
    assert smtp.messages == []


def test_recipients_may_be_a_comma_separated_string() -> None:
    assert alerts.recipients({"ALERT_RECIPIENTS": " a@x.example, b@x.example ,"}) == ["a@x.example", "b@x.example"]
    assert alerts.recipients({"ALERT_RECIPIENTS": None}) == []


def test_a_queue_failure_never_breaks_the_patients_page(
    alert_app: AppFactory, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = alert_app(smtp)

    def broken(app: Flask, alert_id: int) -> None:
        raise ConnectionError("queue storage unavailable")

    monkeypatch.setattr(alerts, "enqueue_alert", broken)
    submit_safety_case(app)
    [alert] = rows(app, Alert)
    assert alert.status == "failed"
    assert alert.last_error == "not queued: ConnectionError: queue storage unavailable"
    monkeypatch.undo()
    assert app.test_cli_runner().invoke(args=["alerts", "retry"]).exit_code == 0
    assert rows(app, Alert)[0].status == "sent"
    assert len(smtp.messages) == 1


def test_alerts_list_shows_state_reference_and_error(alert_app: AppFactory, smtp_down: SMTPServer) -> None:
    app = alert_app(smtp_down)
    submission = submit_safety_case(app)
    runner = app.test_cli_runner()
    output = runner.invoke(args=["alerts", "list"]).output
    assert submission.reference in output
    assert "failed" in output and "attempts=1" in output and "ConnectionRefusedError" in output
    assert "No alerts." in runner.invoke(args=["alerts", "list", "--status", "sent"]).output


def test_a_pending_alert_that_was_never_queued_is_retried_once_stale(alert_app: AppFactory, smtp: SMTPServer) -> None:
    app = alert_app(smtp)
    submission = submit_safety_case(app)
    with new_session(app) as session:
        session.execute(
            sa.update(Alert).values(status="pending", created_at=submission.submitted_at - alerts.STALE_PENDING)
        )
        session.commit()
    assert "Queued 1 alert(s) again." in app.test_cli_runner().invoke(args=["alerts", "retry"]).output
    assert rows(app, Alert)[0].status == "sent"


def test_huey_storage_is_chosen_by_setting(tmp_path: Path) -> None:
    queue = screening.tasks.create_huey(f"sqlite:///{tmp_path / 'q' / 'huey.sqlite3'}", immediate=False)
    assert type(queue).__name__ == "SqliteHuey"
    assert (tmp_path / "q").is_dir()
    assert type(screening.tasks.create_huey("redis://127.0.0.1:6379/0", immediate=True)).__name__ == "RedisHuey"
    with pytest.raises(screening.config.ConfigError):
        screening.tasks.create_huey("amqp://elsewhere", immediate=False)


def test_each_app_has_its_own_queue(alert_app: AppFactory, smtp: SMTPServer) -> None:
    first, second = alert_app(smtp), alert_app(smtp, ALERT_RETRIES=1)
    assert huey_for(first) is huey_for(first)
    assert huey_for(first) is not huey_for(second)
    assert huey_for(first).immediate and huey_for(second).immediate


@pytest.fixture()
def consumer_env(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Return the environment a consumer process of the ``app`` fixture's database runs with."""
    env = {
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        "SCREENING_DATABASE_URL": app.config["DATABASE_URL"],
        "SCREENING_HUEY_URL": f"sqlite:///{tmp_path / 'huey.sqlite3'}",
        "SCREENING_ENVIRONMENT": "production",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(screening.tasks, "_consumer_app", None)
    return env


def test_the_consumer_module_builds_the_queue_from_the_settings(consumer_env: dict[str, str]) -> None:
    queue = load_class("screening.tasks.huey")  # exactly what `huey_consumer screening.tasks.huey` does
    assert type(queue).__name__ == "SqliteHuey"
    assert not queue.immediate
    assert alerts.SEND_TASK in queue._registry._registry
    consumer = screening.tasks.consumer_app()
    assert consumer.config["DATABASE_URL"] == consumer_env["SCREENING_DATABASE_URL"]
    engine_for(consumer).dispose()


def test_a_real_consumer_process_sends_the_alert(
    app: Flask, smtp: SMTPServer, consumer_env: dict[str, str], alert_app: AppFactory
) -> None:
    env = {
        **os.environ,
        **consumer_env,
        "SCREENING_ALERT_RECIPIENTS": '["oncall@clinic.example"]',
        "SCREENING_SMTP_HOST": "127.0.0.1",
        "SCREENING_SMTP_PORT": str(smtp.port),
    }
    web = alert_app(smtp, HUEY_IMMEDIATE=False, ENVIRONMENT="development", HUEY_URL=consumer_env["SCREENING_HUEY_URL"])
    submission = submit_safety_case(web)
    assert rows(web, Alert)[0].status == "pending"  # queued in SQLite, waiting for the consumer
    consumer = Path(sys.executable).parent / "huey_consumer"
    process = subprocess.Popen(
        [str(consumer), "screening.tasks.huey", "--max-delay", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
    [received] = smtp.messages
    assert received.rcpt_tos == ["oncall@clinic.example"]
    assert submission.reference in received.message["Subject"]
    assert rows(web, Alert)[0].status == "sent"
