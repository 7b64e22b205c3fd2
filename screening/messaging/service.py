"""Send the patient the message of a physician's decision: added with the decision, sent by a task after the commit.

``create_for_decision`` adds the message (status "queued") in the decision's transaction; the view calls
``enqueue_created`` once it has committed, and a task on the work queue (``huey_consumer screening.tasks.huey``)
sends it, retried with backoff (PATIENT_MESSAGE_RETRIES, ..._RETRY_DELAY_SECONDS, ..._RETRY_BACKOFF). Each attempt
is counted on the row and audited with ids and the kind only. The address comes from the contact details at each
attempt (``consented_email``): a patient who gave no e-mail, or did not consent, gets nothing and the message says
"not_sent", so the physician knows to reach them another way.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from huey import Huey
from sqlalchemy import orm

from .. import audit
from ..alerts import send_email
from ..clinic import clinic_of
from ..contacts.service import consented_email
from ..db import new_session
from ..models import PatientMessage
from ..models import ReviewAction
from ..models import Submission
from ..queues import QUEUE_NAME
from ..queues import add_tasks
from ..queues import huey_for
from . import KINDS
from . import wording


logger = logging.getLogger(__name__)

SEND_TASK = "screening.messaging.send_patient_message"
#: Messages added to a session and not yet handed to the queue, kept in ``session.info``.
UNQUEUED = "screening.messaging.unqueued"
WORDING_KEY = "screening.messaging.wording"
MAX_ERROR_LENGTH = 200


def create_for_decision(session: orm.Session, decision: ReviewAction, now: datetime) -> PatientMessage | None:
    """Add the message that tells the patient of ``decision`` (none for a decision not in KINDS); queue it later."""
    if decision.decision not in KINDS:
        return None
    message = PatientMessage(
        submission_id=decision.submission_id,
        review_action_id=decision.id,
        kind=decision.decision,
        status="queued",
        attempts=0,
        created_at=now,
    )
    session.add(message)
    session.flush()
    _audit(session, message, "patient_message.queued", now)
    session.info.setdefault(UNQUEUED, []).append(message)
    return message


def enqueue_created(app: Flask, session: orm.Session) -> None:
    """Queue every message ``session`` just committed; log and record any failure, never raise."""
    for message in session.info.pop(UNQUEUED, []):
        if not sa.inspect(message).persistent:  # rolled back with its decision: there is nothing to send
            continue
        try:
            enqueue_message(app, message.id)
        except Exception as exc:  # the physician's page must not fail because the queue did
            logger.exception("Could not queue patient message %s", message.id)
            _record_not_queued(app, message.id, exc)


def enqueue_message(app: Flask, message_id: int) -> None:
    """Hand the message to the work queue (in immediate mode: send it now)."""
    huey_for(app)
    app.extensions[SEND_TASK](message_id)


def init_app(app: Flask) -> None:
    """Register the sending task on the work queue."""
    add_tasks(app, QUEUE_NAME, register_tasks)


def register_tasks(huey: Huey, app: Flask) -> None:
    """Register ``send_patient_message`` on ``huey`` with the app's retry settings, bound to ``app``."""

    @huey.task(
        retries=int(app.config["PATIENT_MESSAGE_RETRIES"]),
        retry_delay=int(app.config["PATIENT_MESSAGE_RETRY_DELAY_SECONDS"]),
        retry_backoff=float(app.config["PATIENT_MESSAGE_RETRY_BACKOFF"]),
        context=True,
    )
    def send_patient_message(message_id: int, task: Any = None) -> None:
        """Send one message; raising makes huey retry it later."""
        deliver(app, message_id, retries_left=int(getattr(task, "retries", 0) or 0))

    app.extensions[SEND_TASK] = send_patient_message


def deliver(app: Flask, message_id: int, *, retries_left: int = 0) -> None:
    """Send the message and record the attempt; re-raise a sending error so that it is retried."""
    with new_session(app) as session:
        message = session.get(PatientMessage, message_id, with_for_update=True)  # one sender at a time
        if message is None or message.status in ("sent", "not_sent", "withdrawn"):
            return
        if reopened_since(session, message):
            message.status = "withdrawn"
            _audit(session, message, "patient_message.withdrawn", _now())
            session.commit()
            return
        address = consented_email(session, app.config, message.submission_id)
        if address is None:
            message.status = "not_sent"
            message.last_error = None
            _audit(session, message, "patient_message.not_sent", _now())
            session.commit()
            return
        try:
            send_email(app.config, build_email(app, session, message, address, now=_now()))
        except Exception as exc:  # any SMTP, network, TLS or template error: record it, then let huey retry
            _record_failure(session, message, describe(exc), retries_left=retries_left)
            session.commit()
            raise
        _record_sent(session, message)
        session.commit()


def reopened_since(session: orm.Session, message: PatientMessage) -> bool:
    """Return True when the submission was reopened after the decision ``message`` tells the patient of.

    A physician who reopens a decision takes it back: a message still waiting (for the queue or for a retry)
    must not tell the patient of it. A new decision sends its own message.
    """
    later = sa.select(ReviewAction.id).where(
        ReviewAction.submission_id == message.submission_id,
        ReviewAction.id > message.review_action_id,
        ReviewAction.action == "reopen",
    )
    return session.scalar(later.limit(1)) is not None


def build_email(
    app: Flask, session: orm.Session, message: PatientMessage, address: str, *, now: datetime
) -> EmailMessage:
    """Return the e-mail of ``message`` to ``address``: the template's words, the clinic and the reference only."""
    submission = session.get_one(Submission, message.submission_id)
    decision = session.get_one(ReviewAction, message.review_action_id)
    clinic = clinic_of(app)
    env = app.extensions.get(WORDING_KEY) or app.extensions.setdefault(WORDING_KEY, wording.environment())
    words = wording.render(
        env,
        message.kind,
        clinic=clinic,
        reference=submission.reference,
        note=decision.note if decision.note_for_patient else None,
    )
    sender = str(app.config["SMTP_FROM"])
    email = EmailMessage()
    email["Subject"] = words.subject
    email["From"] = sender if clinic.name is None else f"{clinic.name} <{sender}>"
    email["To"] = address
    if clinic.email:
        email["Reply-To"] = clinic.email
    email["Date"] = format_datetime(now)
    email["Message-ID"] = make_msgid("patient", domain=sender.rpartition("@")[2] or "localhost")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(words.body)
    return email


def describe(exc: BaseException) -> str:
    """Return why an attempt failed in a few words: the error's kind and code, never the server's text.

    A mail server's reply can quote the recipient's address, so only its numeric code is kept.
    """
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = ", ".join(sorted({str(code) for code, _ in exc.recipients.values()}))
        return f"{name}: the mail server refused the recipient ({codes})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{name}: the mail server answered {exc.smtp_code}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"[:MAX_ERROR_LENGTH]
    return name


def _record_sent(session: orm.Session, message: PatientMessage) -> None:
    """Mark the message sent and audit the attempt."""
    now = _now()
    message.attempts += 1
    message.status = "sent"
    message.sent_at = now
    message.last_error = None
    _audit(session, message, "patient_message.sent", now, attempt=message.attempts)


def _record_failure(session: orm.Session, message: PatientMessage, error: str, *, retries_left: int) -> None:
    """Count a failed attempt, keep its short description and audit it (with whether it will be retried)."""
    now = _now()
    message.attempts += 1
    message.status = "failed"
    message.last_error = error[:MAX_ERROR_LENGTH]
    _audit(session, message, "patient_message.failed", now, attempt=message.attempts, will_retry=retries_left > 0)


def _audit(session: orm.Session, message: PatientMessage, action: str, now: datetime, **details: int | bool) -> None:
    """Record a message event: ids and the kind only, never the address or the words."""
    audit.record(
        session,
        actor="system",
        action=action,
        subject_type="patient_message",
        subject_id=message.id,
        at=now,
        details={"submission_id": message.submission_id, "kind": message.kind, **details},
    )


def _record_not_queued(app: Flask, message_id: int, exc: BaseException) -> None:
    """Mark a message that never reached the queue as failed, so the physician's page says so."""
    try:
        with new_session(app) as session:
            message = session.get(PatientMessage, message_id)
            if message is not None and message.status == "queued":
                message.status = "failed"
                message.last_error = f"not queued: {describe(exc)}"[:MAX_ERROR_LENGTH]
                _audit(session, message, "patient_message.failed", _now(), attempt=0, will_retry=False)
                session.commit()
    except Exception:
        logger.exception("Could not record that patient message %s was not queued", message_id)


def _now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)
