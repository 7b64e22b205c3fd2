"""What the physician's page says about the messages to a patient: each message's state, and each event of it.

The events are the messages' audit rows (queued, each attempt sent or failed, not sent), so the submission's
history shows every retry; the short error of the last failed attempt is on the message itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from ..models import AuditEvent
from ..models import PatientMessage
from . import KIND_LABELS

WITHDRAWN = "Withdrawn: the decision was reopened before the message was sent."
NOT_SENT = "Not sent: the patient gave no e-mail address with consent to be contacted. Reach them another way."
PREFIX = "patient_message."


def _attempts(count: int) -> str:
    """Return "1 attempt", "2 attempts"."""
    return f"{count} attempt{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class MessageRow:
    """One message to the patient, as the "Messages to the patient" list shows it."""

    message: PatientMessage

    @property
    def label(self) -> str:
        """Return what the message is."""
        return KIND_LABELS.get(self.message.kind, self.message.kind)

    @property
    def failed(self) -> bool:
        """Return True when the last attempt failed."""
        return self.message.status == "failed"

    @property
    def state(self) -> str:
        """Return where the message stands, in a sentence."""
        message = self.message
        if message.status == "sent" and message.sent_at is not None:
            return f"Sent {message.sent_at.strftime('%Y-%m-%d %H:%M UTC')}"
        if message.status == "not_sent":
            return NOT_SENT
        if message.status == "withdrawn":
            return WITHDRAWN
        if message.status == "failed":
            return f"Failed after {_attempts(message.attempts)}: {message.last_error}"
        return f"Waiting to be sent ({_attempts(message.attempts)} so far)"


@dataclass(frozen=True)
class MessageEvent:
    """One event of a message to the patient, as a row of the submission's history."""

    at: datetime
    #: "queued", "sent", "failed", "not_sent" or "withdrawn".
    event: str
    label: str
    attempt: int
    will_retry: bool
    error: str | None

    @property
    def text(self) -> str:
        """Return what happened, naming a retry as such."""
        if self.event == "queued":
            return f"Message to the patient queued: {self.label}"
        if self.event == "not_sent":
            return f"{self.label}: {NOT_SENT}"
        if self.event == "withdrawn":
            return f"{self.label}: withdrawn, the decision was reopened before it was sent"
        which = f"Retry {self.attempt - 1}" if self.attempt > 1 else "Attempt 1" if self.attempt else "Queueing"
        if self.event == "sent":
            return f"{self.label}: {which} sent"
        error = f" ({self.error})" if self.error else ""
        then = "; will be retried" if self.will_retry else ""
        return f"{self.label}: {which} failed{error}{then}"


def messages_of(session: orm.Session, submission_id: int) -> tuple[MessageRow, ...]:
    """Return the messages to the patient of a submission, oldest first."""
    query = sa.select(PatientMessage).where(PatientMessage.submission_id == submission_id).order_by(PatientMessage.id)
    return tuple(MessageRow(message) for message in session.scalars(query))


def events_of(session: orm.Session, rows: tuple[MessageRow, ...]) -> tuple[MessageEvent, ...]:
    """Return every event of the messages ``rows``, oldest first; the last failure of each carries its error."""
    by_id = {row.message.id: row.message for row in rows}
    if not by_id:
        return ()
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject_type == "patient_message", AuditEvent.subject_id.in_(by_id))
        .order_by(AuditEvent.id)
    )
    events = list(session.scalars(query))
    last_failure = {event.subject_id: event.id for event in events if event.action == PREFIX + "failed"}
    return tuple(_event(event, by_id[event.subject_id], last_failure) for event in events if event.subject_id)


def _event(event: AuditEvent, message: PatientMessage, last_failure: dict[int | None, int]) -> MessageEvent:
    """Return the history row of one audit event of ``message``."""
    latest = message.status == "failed" and last_failure.get(message.id) == event.id
    return MessageEvent(
        at=event.at,
        event=event.action.removeprefix(PREFIX),
        label=KIND_LABELS.get(message.kind, message.kind),
        attempt=int(event.details.get("attempt") or 0),
        will_retry=bool(event.details.get("will_retry")),
        error=message.last_error if latest else None,
    )
