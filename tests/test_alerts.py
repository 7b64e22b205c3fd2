"""Urgent alerts: a real local SMTP server receives the e-mail; SMTP being down never blocks a submission."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from huey.utils import load_class

import screening.queues
import screening.tasks
from screening import alerts
from screening.db import engine_for
from screening.db import new_session
from screening.models import Alert
from screening.models import AuditEvent
from screening.instruments.scoring import score_answers
from screening.models import Submission
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.engine.loader import read_sources
from screening.active_rules.registry import checked_ruleset
from screening.queues import alert_huey_for
from screening.queues import huey_for
from screening.tuning import dry_run_store
from screening.tuning import dry_runs

from .conftest import make_app
from .consumers import Consumer
from .consumers import start_consumer
from .consumers import stop_consumers
from .consumers import sending_env
from .consumers import wait_until
from .mail import SMTPServer
from .mail import body_of
from .patient import Patient
from .patient import rows
from .ruleset_files import RULES
from .ruleset_files import copy_rules
from .ruleset_files import edit

RECIPIENTS = ["oncall@clinic.example", "backup@clinic.example"]
BASE_URL = "https://screening.clinic.example"
#: What the patient answered (tests/patient.py defaults): none of it may reach an e-mail.
ANSWERS = ("sertraline", "duloxetine", "fibromyalgia", "depression", "female", "PHQ", "GAD", "score", "phq9")

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
    huey = alert_huey_for(app)
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
    assert alert_huey_for(app).scheduled() == []  # retrying cannot help until someone sets recipients
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
    queue = screening.queues.create_huey(f"sqlite:///{tmp_path / 'q' / 'huey.sqlite3'}", immediate=False)
    assert type(queue).__name__ == "SqliteHuey"
    assert (tmp_path / "q").is_dir()
    assert type(screening.queues.create_huey("redis://127.0.0.1:6379/0", immediate=True)).__name__ == "RedisHuey"
    with pytest.raises(screening.config.ConfigError):
        screening.queues.create_huey("amqp://elsewhere", immediate=False)


def test_each_app_has_its_own_queue(alert_app: AppFactory, smtp: SMTPServer) -> None:
    first, second = alert_app(smtp), alert_app(smtp, ALERT_RETRIES=1)
    assert huey_for(first) is huey_for(first)
    assert huey_for(first) is not huey_for(second)
    assert huey_for(first).immediate and huey_for(second).immediate
    assert alert_huey_for(first) is alert_huey_for(first)
    assert alert_huey_for(first) is not huey_for(first)


def test_alerts_have_a_queue_of_their_own_in_the_same_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    app = make_app("sqlite://", HUEY_URL=url, HUEY_IMMEDIATE=False)
    work, urgent = huey_for(app), alert_huey_for(app)
    assert (work.name, urgent.name) == (screening.queues.QUEUE_NAME, screening.queues.ALERT_QUEUE_NAME)
    assert work.storage.filename == urgent.storage.filename  # one file, keyed by queue name
    assert alerts.SEND_TASK in urgent._registry._registry
    assert alerts.SEND_TASK not in work._registry._registry
    assert dry_runs.RUN_TASK not in urgent._registry._registry
    alerts.enqueue_alert(app, 1)
    assert (urgent.pending_count(), work.pending_count()) == (1, 0)


def test_the_consumer_module_builds_both_queues_from_the_settings(consumer_env: dict[str, str]) -> None:
    urgent = load_class("screening.tasks.alerts")  # exactly what `huey_consumer screening.tasks.alerts` does
    work = load_class("screening.tasks.huey")
    assert type(urgent).__name__ == type(work).__name__ == "SqliteHuey"
    assert not urgent.immediate and not work.immediate
    assert alerts.SEND_TASK in urgent._registry._registry
    assert alerts.SEND_TASK not in work._registry._registry
    assert load_class(screening.queues.ALERT_CONSUMER) is urgent and load_class(screening.queues.WORK_CONSUMER) is work
    consumer = screening.tasks.consumer_app()
    assert consumer.config["DATABASE_URL"] == consumer_env["SCREENING_DATABASE_URL"]
    engine_for(consumer).dispose()


def test_a_real_consumer_process_sends_the_alert(
    app: Flask, smtp: SMTPServer, consumer_env: dict[str, str], alert_app: AppFactory, tmp_path: Path
) -> None:
    env = sending_env(consumer_env, smtp)
    web = alert_app(smtp, HUEY_IMMEDIATE=False, ENVIRONMENT="development", HUEY_URL=consumer_env["SCREENING_HUEY_URL"])
    submission = submit_safety_case(web)
    assert rows(web, Alert)[0].status == "pending"  # queued in SQLite, waiting for the consumer
    consumer = start_consumer((screening.queues.ALERT_CONSUMER,), env, tmp_path / "consumer.log")
    queue = alert_huey_for(web)
    try:
        # The consumer records the alert as sent just after the e-mail leaves, and on start it queues its every-minute
        # tasks behind the alert: stop it once both are done, so that the queue it leaves is empty.
        wait_until(
            "the alert e-mail arrives, is recorded and the queue is worked off",
            lambda: bool(smtp.messages) and rows(web, Alert)[0].status == "sent" and queue.pending_count() == 0,
            [consumer],
            30,
        )
    finally:
        stop_consumers([consumer])
    [received] = smtp.messages
    assert received.rcpt_tos == ["oncall@clinic.example"]
    assert submission.reference in received.message["Subject"]
    assert rows(web, Alert)[0].status == "sent"
    # The consumer noted that it runs, so the alert commands do not warn.
    assert alerts.consumer_problem(web, datetime.now(UTC)) is None
    listed = web.test_cli_runner().invoke(args=["alerts", "list"])
    assert "Alert queue: 0 task(s) waiting; its consumer last ran " in listed.output
    assert "last ran never" not in listed.output
    assert "Warning" not in listed.output


def test_alert_commands_warn_while_no_alert_consumer_runs(
    alert_app: AppFactory, smtp: SMTPServer, tmp_path: Path
) -> None:
    app = alert_app(smtp, HUEY_IMMEDIATE=False, HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}")
    submission = submit_safety_case(app)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["alerts", "list"])
    assert listed.exit_code == 0
    assert "Alert queue: 1 task(s) waiting; its consumer last ran never." in listed.output
    assert submission.reference in listed.output
    assert "Warning: The alert consumer has never run: urgent alerts are queued but not sent." in listed.stderr
    assert "`huey_consumer screening.tasks.alerts`" in listed.stderr
    assert "The alert consumer has never run" in runner.invoke(args=["alerts", "retry"]).stderr

    now = datetime.now(UTC)
    alerts.note_consumer_seen(alert_huey_for(app), now - alerts.CONSUMER_SILENT_AFTER)
    assert "has not run since" in (alerts.consumer_problem(app, now) or "")
    alerts.note_consumer_seen(alert_huey_for(app), now)
    assert alerts.consumer_problem(app, now) is None
    assert "Warning" not in runner.invoke(args=["alerts", "list"]).stderr


def test_the_dry_run_consumer_logs_an_error_while_no_alert_consumer_runs(
    alert_app: AppFactory,
    smtp: SMTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = alert_app(smtp, HUEY_IMMEDIATE=False, HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}")
    work = huey_for(app)
    name = "screening.alerts.check_alert_consumer"
    assert name not in alert_huey_for(app)._registry._registry
    check = work._registry.string_to_task(name)

    def logged() -> list[logging.LogRecord]:
        """Return what the check logged since the last call."""
        records = [record for record in caplog.records if record.name == alerts.logger.name]
        caplog.clear()
        return records

    work.execute(check())  # as that consumer does every minute: just started, an alert consumer may be starting too
    assert logged() == []
    later = datetime.now(UTC) + alerts.CONSUMER_SILENT_AFTER
    monkeypatch.setattr(alerts, "_now", lambda: later)
    work.execute(check())
    [error] = logged()
    assert error.levelname == "ERROR"
    assert "The alert consumer has never run" in error.getMessage()
    alerts.note_consumer_seen(alert_huey_for(app), later)
    work.execute(check())
    assert logged() == []


def test_alert_commands_do_not_warn_when_tasks_run_at_once(alert_app: AppFactory, smtp: SMTPServer) -> None:
    listed = alert_app(smtp).test_cli_runner().invoke(args=["alerts", "list"])
    assert "tasks run at once" in listed.output
    assert "Warning" not in listed.stderr


# --- Alerts never wait behind a dry run ---------------------------------------------------------------

#: The consumers README "Production" step 4 starts, as ``huey_consumer`` arguments.
CONSUMERS = ((screening.queues.ALERT_CONSUMER, "--workers", "2"), (screening.queues.WORK_CONSUMER, "--workers", "2"))
#: One slow dry run per thread of the dry-run consumer, so both threads are busy.
SLOW_DRY_RUNS = 2
#: Enough stored submissions that each slow dry run lasts minutes, far longer than the test.
SLOW_SUBMISSIONS = 300
#: A legal condition that builds a 200 by 200 list before it reads the answers: slow to evaluate, never wrong.
NUMBERS = ", ".join(str(number) for number in range(200))
SLOW_GLAUCOMA = f"when: '[[a for a in [{NUMBERS}]] for b in [{NUMBERS}]] != [] and \"glaucoma\" in medical_history'"
#: Generous bounds for a loaded two-core machine: the consumers import the app, the alert crosses the queue.
START_SECONDS = 90.0
ALERT_SECONDS = 20.0


def slow_candidate(tmp_path: Path) -> dict[str, str]:
    """Return the sources of a copy of the rules whose glaucoma flag is slow to evaluate (same outcomes)."""
    rules = copy_rules(tmp_path)
    edit(rules / "flags.yaml", "when: '\"glaucoma\" in medical_history'", SLOW_GLAUCOMA)
    return dict(read_sources(rules))


def store_plain_submissions(app: Flask, count: int) -> None:
    """Store ``count`` submissions with the baseline answers (no safety concern), for dry runs to evaluate."""
    answers = shipped_baseline()
    scores = score_answers(answers).as_dict()
    now = datetime.now(UTC)
    rows_ = [
        {
            "reference": f"DR{number:04d}-TEST",
            "submitted_at": now - timedelta(minutes=number),
            "form_version": "test",
            "answers": answers,
            "scores": scores,
            "safety_flag": False,
            "outcome": "not_candidate",
            "priority": 9,
            "needs_action": False,
            "status": "open",
        }
        for number in range(count)
    ]
    with new_session(app) as session:
        session.execute(sa.insert(Submission), rows_)
        session.commit()


def shipped_baseline() -> dict[str, Any]:
    """Return the baseline answers of the shipped rules."""
    return dict(checked_ruleset(read_sources(RULES)).baseline)


def start_dry_runs(app: Flask, sources: dict[str, str], count: int) -> list[int]:
    """Store and queue ``count`` dry runs of ``sources`` against the active version; return their ids."""
    ids = []
    with new_session(app) as session:
        against = store.active(session)
        assert against is not None
        for _ in range(count):
            run = dry_run_store.start_backtest(
                session, candidate_sources=sources, against=against.version, actor="user:1", now=datetime.now(UTC)
            )
            session.commit()
            ids.append(run.id)
    for run_id in ids:
        dry_runs.enqueue_backtest(app, run_id)
    return ids


def run_statuses(app: Flask, run_ids: list[int]) -> list[str]:
    """Return the stored status of each dry run."""
    with new_session(app) as session:
        return [dry_run_store.get_run(session, run_id).status for run_id in run_ids]


def test_an_urgent_alert_is_sent_while_dry_runs_keep_every_other_worker_busy(
    app: Flask, smtp: SMTPServer, consumer_env: dict[str, str], alert_app: AppFactory, tmp_path: Path
) -> None:
    env = sending_env(
        consumer_env,
        smtp,
        # Limits on evaluation time must not end the slow dry runs before the alert is sent.
        SCREENING_RULES_EVALUATION_MS="60000",
        SCREENING_RULES_DRY_RUN_SECONDS="3600",
    )
    web = alert_app(smtp, HUEY_IMMEDIATE=False, ENVIRONMENT="development", HUEY_URL=consumer_env["SCREENING_HUEY_URL"])
    require_ruleset(web)
    store_plain_submissions(web, SLOW_SUBMISSIONS)
    run_ids = start_dry_runs(web, slow_candidate(tmp_path), SLOW_DRY_RUNS)
    consumers: list[Consumer] = []
    try:
        for number, arguments in enumerate(CONSUMERS):
            consumers.append(start_consumer(arguments, env, tmp_path / f"consumer-{number}.log"))
        wait_until(
            "every dry run is running",
            lambda: run_statuses(web, run_ids) == ["running"] * SLOW_DRY_RUNS,
            consumers,
            START_SECONDS,
        )
        patient = Patient(web.test_client())
        patient.answer_all({"mood": {"phq9_9": "1"}})
        assert patient.submit().status_code == 302
        wait_until("the alert e-mail arrives", lambda: bool(smtp.messages), consumers, ALERT_SECONDS)
        # The alert went out while the dry runs still held their consumer, not after one of them finished.
        assert run_statuses(web, run_ids) == ["running"] * SLOW_DRY_RUNS
    finally:
        stop_consumers(consumers)
    with new_session(web) as session:
        urgent = session.scalars(sa.select(Submission).where(Submission.safety_flag)).one()
    [received] = smtp.messages
    assert urgent.reference in received.message["Subject"]
