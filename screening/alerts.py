"""Urgent alerts: an e-mail to the on-call address(es) for every safety submission, retried until it goes.

The alert row is added in the submission's transaction; the e-mail is sent by a task on the alert
queue after the commit, so SMTP being slow or down never blocks or breaks the patient's page. That
queue has a consumer of its own (``huey_consumer screening.tasks.alerts``), so an alert never waits
behind a dry run. The alert consumer notes in its queue's storage, at start and every minute, that it
runs; the other consumer logs an error, and ``alerts list`` and ``alerts retry`` warn, when it has not
for CONSUMER_SILENT_AFTER. The e-mail holds the reference code and a link to the physician's page,
never answers, scores, names or notes. A re-alert (kind ESCALATION, added by ``escalation`` when nobody
claimed the submission in time) takes the same path: queued, sent, retried and recorded alike.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from huey import Huey
from huey import crontab
from sqlalchemy import orm

from . import audit
from .config import public_url
from .db import new_session
from .models import Alert
from .models import Submission
from .queues import ALERT_CONSUMER
from .queues import ALERT_QUEUE_NAME
from .queues import QUEUE_NAME
from .queues import WORK_CONSUMER
from .queues import add_tasks
from .queues import alert_huey_for
from .queues import is_immediate

logger = logging.getLogger(__name__)

SEND_TASK = "screening.alerts.send_alert"
#: The kinds of alert: the one sent when a safety submission arrives, and the re-alert when nobody held it in time.
SAFETY = "safety"
ESCALATION = "escalation"
#: Where the app keeps the minutes after which an unclaimed safety submission is re-alerted.
ESCALATION_MINUTES = "SAFETY_ESCALATION_MINUTES"
#: Alerts added to a session and not yet handed to the queue, kept in ``session.info``.
UNQUEUED = "screening.alerts.unqueued"
NO_RECIPIENTS = "no ALERT_RECIPIENTS configured"
#: A pending alert this old was probably never queued (the queue was down); ``alerts retry`` takes it too.
STALE_PENDING = timedelta(minutes=5)
MAX_ERROR_LENGTH = 500
#: Where the alert consumer notes when it last ran, in its queue's storage (an ISO time in UTC).
CONSUMER_SEEN_KEY = "screening.alerts.consumer_seen"
#: An alert consumer that has not noted itself for this long is not running (it notes itself every minute).
CONSUMER_SILENT_AFTER = timedelta(minutes=3)


class AlertNotConfigured(RuntimeError):
    """There is nobody to send alerts to; retrying will not help until the settings change."""


def create_safety_alert(session: orm.Session, submission: Submission, now: datetime, *, kind: str = SAFETY) -> Alert:
    """Add a pending alert of ``kind`` about ``submission`` in the caller's transaction; queue it after the commit."""
    alert = Alert(submission_id=submission.id, created_at=now, status="pending", attempts=0, kind=kind)
    session.add(alert)
    session.info.setdefault(UNQUEUED, []).append(alert)
    return alert


def enqueue_created(app: Flask, session: orm.Session) -> None:
    """Queue every alert ``session`` just committed; log and record any failure, never raise."""
    for alert in session.info.pop(UNQUEUED, []):
        if not sa.inspect(alert).persistent:  # rolled back: there is nothing to send
            continue
        try:
            enqueue_alert(app, alert.id)
        except Exception as exc:  # the patient's page must not fail because the queue did
            logger.exception("Could not queue alert %s", alert.id)
            _record_not_queued(app, alert.id, exc)


def enqueue_alert(app: Flask, alert_id: int) -> None:
    """Hand the alert to the alert queue (in immediate mode: send it now)."""
    alert_huey_for(app)
    app.extensions[SEND_TASK](alert_id)


def init_app(app: Flask) -> None:
    """Register the alert task on the alert queue, the watch on the alert consumer on the work queue, and give the
    templates ``alert_setup_problem()`` (``setup_problem`` of the app's settings)."""
    add_tasks(app, ALERT_QUEUE_NAME, register_tasks)
    add_tasks(app, QUEUE_NAME, register_watch)
    app.add_template_global(lambda: setup_problem(app.config), "alert_setup_problem")


def setup_problem(config: Mapping[str, Any]) -> str | None:
    """Return what to set before urgent alerts can be sent (no recipients, or no mail server), or None when set."""
    fixes = []
    if not recipients(config):
        fixes.append("set SCREENING_ALERT_RECIPIENTS to the on-call addresses (a JSON list or comma-separated)")
    host = str(config.get("SMTP_HOST") or "").strip()
    if not host:
        fixes.append("set SCREENING_SMTP_HOST (and SCREENING_SMTP_PORT) to the clinic's mail server")
    if not fixes:
        return None
    server = (
        f" They are sent through the mail server at {host}:{config.get('SMTP_PORT')} "
        "(SCREENING_SMTP_HOST, SCREENING_SMTP_PORT)."
        if host
        else ""
    )
    return (
        f"Urgent alerts are not configured: {'; '.join(fixes)}, then run 'flask --app screening alerts retry'.{server}"
    )


def register_tasks(huey: Huey, app: Flask) -> None:
    """Register ``send_alert`` on the alert queue ``huey``, with the app's retry settings, bound to ``app``.

    The consumer of that queue also notes that it runs, at start and every minute (``consumer_problem``).
    """

    @huey.on_startup()
    def note_consumer_started() -> None:
        """Note that the alert consumer has started."""
        note_consumer_seen(huey, _now())

    @huey.periodic_task(crontab())
    def note_consumer_running() -> None:
        """Note that the alert consumer still runs."""
        note_consumer_seen(huey, _now())

    @huey.task(
        retries=int(app.config["ALERT_RETRIES"]),
        retry_delay=int(app.config["ALERT_RETRY_DELAY_SECONDS"]),
        retry_backoff=float(app.config["ALERT_RETRY_BACKOFF"]),
    )
    def send_alert(alert_id: int) -> None:
        """Send one alert; raising makes huey retry it later."""
        deliver(app, alert_id)

    app.extensions[SEND_TASK] = send_alert


def register_watch(huey: Huey, app: Flask) -> None:
    """Register on ``huey`` (the other queue) a check, every minute, that logs an error while no alert consumer runs.

    A deployment that starts only ``huey_consumer screening.tasks.huey`` queues alerts nobody sends: its log says so.
    """
    started = _now()

    @huey.periodic_task(crontab())
    def check_alert_consumer() -> None:
        """Log an error when the alert consumer has not been seen lately."""
        now = _now()
        if now - started < CONSUMER_SILENT_AFTER:
            return  # an alert consumer started at the same time may not have noted itself yet
        problem = consumer_problem(app, now)
        if problem is not None:
            logger.error(problem)


def note_consumer_seen(huey: Huey, now: datetime) -> None:
    """Note in the alert queue's storage that its consumer runs at ``now``."""
    huey.put(CONSUMER_SEEN_KEY, now.isoformat())


def consumer_seen(app: Flask) -> datetime | None:
    """Return when the alert consumer last noted that it runs, or None if it never has."""
    value = alert_huey_for(app).get(CONSUMER_SEEN_KEY, peek=True)
    return datetime.fromisoformat(value) if value else None


def consumer_problem(app: Flask, now: datetime) -> str | None:
    """Return why queued alerts are not being sent, or None while the alert consumer runs (or tasks run at once)."""
    if is_immediate(app):
        return None
    try:
        seen = consumer_seen(app)
    except Exception as exc:  # the queue's storage is down: nothing can be queued or sent either
        return f"The alert queue cannot be read ({type(exc).__name__}): urgent alerts cannot be queued or sent."
    if seen is not None and now - seen < CONSUMER_SILENT_AFTER:
        return None
    since = "has never run" if seen is None else f"has not run since {seen.isoformat(timespec='seconds')}"
    return (
        f"The alert consumer {since}: urgent alerts are queued but not sent. Start "
        f"`huey_consumer {ALERT_CONSUMER}` beside `huey_consumer {WORK_CONSUMER}`."
    )


def queue_status(app: Flask, now: datetime) -> str:
    """Return one line about the alert queue: tasks waiting and when its consumer last ran."""
    if is_immediate(app):
        return "Alert queue: tasks run at once in the calling process (HUEY_IMMEDIATE)."
    try:
        waiting = alert_huey_for(app).pending_count()
        seen = consumer_seen(app)
    except Exception as exc:  # shown as a problem by consumer_problem
        return f"Alert queue: cannot be read ({type(exc).__name__})."
    last = "never" if seen is None else f"{seen.isoformat(timespec='seconds')} ({_ago(now - seen)} ago)"
    return f"Alert queue: {waiting} task(s) waiting; its consumer last ran {last}."


def _ago(elapsed: timedelta) -> str:
    """Return a time span in whole seconds or minutes."""
    seconds = max(0, int(elapsed.total_seconds()))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def deliver(app: Flask, alert_id: int) -> None:
    """Send the alert e-mail and record the outcome; re-raise a sending error so it is retried."""
    with new_session(app) as session:
        alert = session.get(Alert, alert_id, with_for_update=True)  # one sender at a time on PostgreSQL
        if alert is None or alert.status == "sent":
            return
        submission = session.get_one(Submission, alert.submission_id)
        try:
            refused = send_email(app.config, build_message(app.config, submission, now=_now(), kind=alert.kind))
        except AlertNotConfigured as exc:
            _record_failure(session, alert, str(exc))
            session.commit()
            return  # nothing to retry until someone configures recipients and runs `alerts retry`
        except Exception as exc:  # any SMTP, network or TLS error: record it, then let huey retry
            _record_failure(session, alert, describe(exc))
            session.commit()
            raise
        _record_sent(session, alert, refused)
        session.commit()


def recipients(config: Mapping[str, Any]) -> list[str]:
    """Return ALERT_RECIPIENTS as a list (a comma-separated string from the environment works too)."""
    value = config.get("ALERT_RECIPIENTS") or []
    items = value.split(",") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()]


def detail_url(config: Mapping[str, Any], submission_id: int) -> str:
    """Return the address of the physician's page for a submission."""
    return public_url(config, f"/review/submissions/{submission_id}")


def build_message(
    config: Mapping[str, Any], submission: Submission, *, now: datetime, kind: str = SAFETY
) -> EmailMessage:
    """Return the alert e-mail of ``kind``: the reference code and a link, nothing the patient answered."""
    to = recipients(config)
    if not to:
        raise AlertNotConfigured(NO_RECIPIENTS)
    subject, opening = _wording(config, kind)
    sender = str(config["SMTP_FROM"])
    message = EmailMessage()
    message["Subject"] = f"{subject} ({submission.reference})"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("alert", domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"{opening}\n\n"
        f"Reference: {submission.reference}\n"
        f"Open it: {detail_url(config, submission.id)}\n\n"
        "This e-mail holds no answers by design; sign in to read them.\n"
    )
    return message


def _wording(config: Mapping[str, Any], kind: str) -> tuple[str, str]:
    """Return the subject and the opening sentence of an alert of ``kind``."""
    if kind == ESCALATION:
        minutes = int(config[ESCALATION_MINUTES])
        return (
            "Re-alert: safety submission not claimed",
            f"Re-alert: no physician has held this safety submission for {minutes} minutes since it was sent or "
            "last released. The patient's answers show a risk of self-harm: claim it and call the patient now.",
        )
    return (
        "Urgent: safety review needed",
        "A screening submission needs safety review now: the patient's answers show a risk of self-harm.",
    )


def send_email(config: Mapping[str, Any], message: EmailMessage) -> dict[str, Any]:
    """Send ``message`` over SMTP; return the recipients the server refused (all refused raises)."""
    with smtplib.SMTP(
        str(config["SMTP_HOST"]), int(config["SMTP_PORT"]), timeout=float(config["SMTP_TIMEOUT"])
    ) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["SMTP_USERNAME"]:
            smtp.login(str(config["SMTP_USERNAME"]), str(config["SMTP_PASSWORD"] or ""))
        refused: dict[str, Any] = smtp.send_message(message)
    return refused


def describe(exc: BaseException) -> str:
    """Return an error as "Type: message", short enough to store."""
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def _record_sent(session: orm.Session, alert: Alert, refused: Mapping[str, Any]) -> None:
    """Mark the alert sent and audit it; name any recipient the server refused."""
    now = _now()
    alert.attempts += 1
    alert.status = "sent"
    alert.sent_at = now
    alert.last_error = f"refused by the server: {', '.join(sorted(refused))}" if refused else None
    _audit(session, alert, "alert.sent", now, refused=len(refused))


def _record_failure(session: orm.Session, alert: Alert, error: str) -> None:
    """Count a failed attempt, keep its error and audit it."""
    now = _now()
    alert.attempts += 1
    alert.status = "failed"
    alert.last_error = error[:MAX_ERROR_LENGTH]
    _audit(session, alert, "alert.failed", now)


def _audit(session: orm.Session, alert: Alert, action: str, now: datetime, **details: int) -> None:
    """Record an alert event; its details name the submission, so the submission's history can show it."""
    audit.record(
        session,
        actor="system",
        action=action,
        subject_type="alert",
        subject_id=alert.id,
        at=now,
        details={"submission_id": alert.submission_id, "attempts": alert.attempts, **details},
    )


def _record_not_queued(app: Flask, alert_id: int, exc: BaseException) -> None:
    """Mark an alert that never reached the queue as failed, so the queue page and `alerts retry` see it."""
    try:
        with new_session(app) as session:
            alert = session.get(Alert, alert_id)
            if alert is not None and alert.status == "pending":
                alert.status = "failed"
                alert.last_error = f"not queued: {describe(exc)}"[:MAX_ERROR_LENGTH]
                session.commit()
    except Exception:
        logger.exception("Could not record that alert %s was not queued", alert_id)


def _now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def retry_candidates(session: orm.Session, *, now: datetime) -> list[Alert]:
    """Return failed alerts, and pending ones old enough that their task was probably lost."""
    stale = sa.and_(Alert.status == "pending", Alert.created_at <= now - STALE_PENDING)
    return list(session.scalars(sa.select(Alert).where(sa.or_(Alert.status == "failed", stale)).order_by(Alert.id)))


def latest_alerts(session: orm.Session, *, status: str | None, limit: int) -> list[tuple[Alert, str]]:
    """Return the newest ``limit`` alerts (only those in ``status``, if given), each with its submission's reference."""
    query = sa.select(Alert, Submission.reference).join(Submission, Submission.id == Alert.submission_id)
    if status:
        query = query.where(Alert.status == status)
    return [(alert, reference) for alert, reference in session.execute(query.order_by(Alert.id.desc()).limit(limit))]
