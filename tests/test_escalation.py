"""A safety submission nobody claims in time re-alerts the on-call list, once, through the alert queue."""

from __future__ import annotations

import re
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import orm

from screening import alerts
from screening import escalation
from screening.auth import clock
from screening.db import new_session
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import Submission
from screening.queues import alert_huey_for
from screening.queues import huey_for
from screening.review import service

from .accounts import Auth
from .patient import rows
from .consumers import sending_env
from .consumers import start_consumer
from .consumers import stop_consumers
from .consumers import wait_until
from .mail import SMTPServer
from .mail import body_of
from .test_alerts import ANSWERS
from .test_alerts import RECIPIENTS
from .test_alerts import AppFactory
from .test_alerts import alert_app  # noqa: F401 - the apps that send to the sink
from .test_alerts import submit_safety_case
from .test_review_service import NOW
from .test_review_service import add_submission
from .test_review_service import add_user

#: SAFETY_ESCALATION_MINUTES by default.
MINUTES = 30


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


def escalate(db: orm.Session, app: Flask, at: datetime) -> list[Alert]:
    """Run the escalation service at ``at`` and commit what it added."""
    created = escalation.escalate_unclaimed(db, app.config, at)
    db.commit()
    return created


def escalations(app: Flask) -> list[Alert]:
    """Return the stored re-alerts."""
    return [alert for alert in rows(app, Alert) if alert.kind == alerts.ESCALATION]


def test_the_default_is_thirty_minutes(app: Flask) -> None:
    assert app.config["SAFETY_ESCALATION_MINUTES"] == MINUTES


def test_an_unclaimed_safety_submission_is_escalated_once_after_the_minutes_pass(app: Flask, db: orm.Session) -> None:
    submission = add_submission(db, "safety", submitted_at=NOW)
    db.commit()
    assert escalate(db, app, NOW + timedelta(minutes=MINUTES - 1)) == []
    assert escalate(db, app, NOW + timedelta(minutes=MINUTES)) == []  # "more than" the minutes
    [created] = escalate(db, app, NOW + timedelta(minutes=MINUTES, seconds=1))
    assert (created.submission_id, created.kind, created.status) == (submission.id, alerts.ESCALATION, "pending")
    assert escalate(db, app, NOW + timedelta(minutes=MINUTES + 10)) == []
    assert escalate(db, app, NOW + timedelta(days=2)) == []
    assert len(escalations(app)) == 1
    [event] = [event for event in rows(app, AuditEvent) if event.action == "alert.escalated"]
    assert (event.actor, event.subject_type, event.subject_id) == ("system", "alert", created.id)
    assert event.details == {"submission_id": submission.id, "minutes": MINUTES}


def test_the_minutes_are_a_setting(app: Flask, db: orm.Session) -> None:
    app.config["SAFETY_ESCALATION_MINUTES"] = 5
    add_submission(db, "safety", submitted_at=NOW)
    db.commit()
    assert escalate(db, app, NOW + timedelta(minutes=4)) == []
    assert len(escalate(db, app, NOW + timedelta(minutes=6))) == 1


def test_a_claimed_or_decided_submission_is_not_escalated(app: Flask, db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.test")
    claimed = add_submission(db, "safety", submitted_at=NOW)
    decided = add_submission(db, "safety", submitted_at=NOW)
    db.commit()
    service.claim(db, claimed.id, ada, NOW + timedelta(minutes=10))
    service.decide(db, decided.id, ada, "safety_followup_done", "Called.", False, NOW, contact_result="reached")
    db.commit()
    assert escalate(db, app, NOW + timedelta(hours=3)) == []


def test_a_submission_released_unattended_is_escalated_the_minutes_after_its_release(
    app: Flask, db: orm.Session
) -> None:
    ada = add_user(db, "ada@clinic.test")
    released = add_submission(db, "safety", submitted_at=NOW)
    db.commit()
    service.claim(db, released.id, ada, NOW + timedelta(minutes=10))
    service.release(db, released.id, ada, NOW + timedelta(minutes=20))  # let go: nobody holds it now
    db.commit()
    assert escalate(db, app, NOW + timedelta(minutes=49)) == []  # 29 minutes after the release
    [alert] = escalate(db, app, NOW + timedelta(minutes=51))
    assert alert.submission_id == released.id


def test_a_submission_without_a_safety_flag_is_not_escalated(app: Flask, db: orm.Session) -> None:
    for outcome in ("candidate", "contraindication_review", "manual_review", "counseling"):
        add_submission(db, outcome, submitted_at=NOW - timedelta(days=1))
    db.commit()
    assert escalate(db, app, NOW) == []


def test_a_submission_has_at_most_one_escalation_in_the_database(app: Flask, db: orm.Session) -> None:
    submission = add_submission(db, "safety", submitted_at=NOW)
    db.commit()
    for kind in (alerts.SAFETY, alerts.SAFETY, alerts.ESCALATION):  # two safety alerts are allowed (a resend)
        db.add(Alert(submission_id=submission.id, created_at=NOW, status="sent", kind=kind))
        db.commit()
    db.add(Alert(submission_id=submission.id, created_at=NOW, status="pending", kind=alerts.ESCALATION))
    with pytest.raises(sa.exc.IntegrityError):
        db.commit()
    db.rollback()


def test_a_lost_race_with_another_alert_consumer_adds_nothing(
    alert_app: AppFactory,  # noqa: F811
    smtp: SMTPServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = alert_app(smtp)
    with new_session(app) as session:
        submission = add_submission(session, "safety", submitted_at=NOW)
        session.commit()
    real = escalation.overdue

    def racing(session: orm.Session, sent_before: datetime) -> list[Submission]:
        """Find what is overdue; then another consumer commits the same re-alert before this one can."""
        found = real(session, sent_before)
        with new_session(app) as other:
            other.add(Alert(submission_id=submission.id, created_at=NOW, status="sent", kind=alerts.ESCALATION))
            other.commit()
        return found

    monkeypatch.setattr(escalation, "overdue", racing)
    monkeypatch.setattr(clock, "now", lambda: NOW + timedelta(hours=1))
    assert escalation.run_escalation(app) == []
    assert len(escalations(app)) == 1 and smtp.messages == []


# --- The re-alert e-mail, through the send path of the urgent alerts -----------------------------------------


def test_the_re_alert_goes_to_the_on_call_list_with_no_answers(
    alert_app: AppFactory,  # noqa: F811
    smtp: SMTPServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = alert_app(smtp)
    submission = submit_safety_case(app, item9="3")
    assert len(smtp.messages) == 1  # the safety alert
    later = submission.submitted_at + timedelta(minutes=MINUTES + 1)
    monkeypatch.setattr(clock, "now", lambda: submission.submitted_at + timedelta(minutes=MINUTES - 1))
    assert escalation.run_escalation(app) == []
    monkeypatch.setattr(clock, "now", lambda: later)
    [alert_id] = escalation.run_escalation(app)
    assert escalation.run_escalation(app) == []
    assert len(smtp.messages) == 2
    received = smtp.messages[1]
    assert sorted(received.rcpt_tos) == sorted(RECIPIENTS)
    assert received.message["Subject"] == f"Re-alert: safety submission not claimed ({submission.reference})"
    body = body_of(received)
    link = f"https://screening.clinic.example/review/submissions/{submission.id}"
    assert (
        f"no physician has held this safety submission for {MINUTES} minutes since it was sent or last released" in body
    )
    assert submission.reference in body and link in body
    whole = received.message.as_string()
    for answer in ANSWERS:
        assert answer.lower() not in whole.lower(), answer
    rest = body.replace(submission.reference, "").replace(link, "").replace(f"{MINUTES} minutes", "")
    assert not re.search(r"\d", rest)
    [alert] = escalations(app)
    assert (alert.id, alert.status, alert.attempts, alert.created_at) == (alert_id, "sent", 1, later)
    actions = [event.action for event in rows(app, AuditEvent) if event.subject_id == alert_id]
    assert actions == ["alert.escalated", "alert.sent"]


def test_a_re_alert_that_fails_is_recorded_and_retried_like_a_safety_alert(
    alert_app: AppFactory,  # noqa: F811
    smtp: SMTPServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = alert_app(smtp)
    submission = submit_safety_case(app)
    smtp.stop()
    monkeypatch.setattr(clock, "now", lambda: submission.submitted_at + timedelta(hours=1))
    escalation.run_escalation(app)
    [alert] = escalations(app)
    assert alert.status == "failed" and alert.last_error is not None
    assert alert.last_error.startswith("ConnectionRefusedError")
    listed = app.test_cli_runner().invoke(args=["alerts", "list", "--status", "failed"]).output
    assert f"{alert.id}\tescalation\tfailed\tattempts=1\t{submission.reference}" in listed
    smtp.start()
    assert "Queued 1 alert(s) again." in app.test_cli_runner().invoke(args=["alerts", "retry"]).output
    assert escalations(app)[0].status == "sent"
    assert "Re-alert" in smtp.messages[-1].message["Subject"]


def test_the_escalation_runs_every_minute_on_the_alert_queue(tmp_path: Path) -> None:
    from .conftest import make_app

    app = make_app("sqlite://", HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}", HUEY_IMMEDIATE=False)
    urgent, work = alert_huey_for(app), huey_for(app)
    assert escalation.TASK in urgent._registry._registry
    assert escalation.TASK not in work._registry._registry
    minute = datetime(2026, 11, 24, 9, 0)
    for later in range(60):  # what the consumer's scheduler enqueues at each minute of an hour
        assert escalation.TASK in {
            urgent._registry.task_to_string(type(task))
            for task in urgent.read_periodic(minute + timedelta(minutes=later))
        }


def test_a_real_consumer_sends_the_re_alert(
    app: Flask,
    smtp: SMTPServer,  # noqa: F811
    consumer_env: dict[str, str],  # noqa: F811
    alert_app: AppFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    web = alert_app(smtp, HUEY_IMMEDIATE=False, ENVIRONMENT="development", HUEY_URL=consumer_env["SCREENING_HUEY_URL"])
    submission = submit_safety_case(web)
    with new_session(web) as session:  # sent long enough ago for the consumer's own clock
        earlier = submission.submitted_at - timedelta(minutes=MINUTES + 1)
        session.execute(sa.update(Submission).values(submitted_at=earlier))
        session.commit()
    # What the consumer's scheduler enqueues at the top of each minute, enqueued now so the test need not wait.
    alert_huey_for(web)._registry.string_to_task(escalation.TASK)()
    consumer = start_consumer(("screening.tasks.alerts",), sending_env(consumer_env, smtp), tmp_path / "consumer.log")
    try:
        wait_until("the safety alert and the re-alert arrive", lambda: len(smtp.messages) == 2, [consumer], 30)
        # Each is recorded as sent just after its e-mail leaves.
        wait_until(
            "the re-alert is recorded as sent",
            lambda: [alert.status for alert in escalations(web)] == ["sent"],
            [consumer],
            10,
        )
    finally:
        stop_consumers([consumer])
    subjects = sorted(received.message["Subject"] for received in smtp.messages)
    assert subjects == [
        f"Re-alert: safety submission not claimed ({submission.reference})",
        f"Urgent: safety review needed ({submission.reference})",
    ]
    assert [alert.status for alert in escalations(web)] == ["sent"]


# --- The pages --------------------------------------------------------------------------------------------------


def test_the_queue_and_the_submission_page_say_escalated(
    app: Flask, db: orm.Session, client: FlaskClient, auth: Auth
) -> None:
    auth.login_as("physician")
    now = clock.now()
    escalated = add_submission(db, "safety", submitted_at=now - timedelta(hours=2))
    waiting = add_submission(db, "safety", submitted_at=now - timedelta(minutes=5))
    db.commit()
    escalate(db, app, now)
    queue = client.get("/review/").get_data(as_text=True)
    [escalated_row] = [row for row in queue.split("<tr") if escalated.reference in row]
    [waiting_row] = [row for row in queue.split("<tr") if waiting.reference in row]
    assert '<span class="badge badge-escalated">Escalated</span>' in escalated_row
    assert "Escalated" not in waiting_row
    page = client.get(f"/review/submissions/{escalated.id}").get_data(as_text=True)
    assert '<span class="badge badge-escalated">Escalated</span>' in page
    assert f"Re-alert: not claimed after {MINUTES} minutes" in page
    assert "Escalated" not in client.get(f"/review/submissions/{waiting.id}").get_data(as_text=True)
