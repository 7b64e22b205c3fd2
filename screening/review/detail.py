"""What a physician reads about one submission, and the audit event of reading it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..alerts import ESCALATION
from ..messaging.history import MessageEvent
from ..messaging.history import MessageRow
from ..messaging.history import events_of
from ..messaging.history import messages_of
from ..models import Alert
from ..models import Decision
from ..models import ReviewAction
from ..models import Submission
from ..models import User
from .errors import ReviewNotFound


@dataclass(frozen=True)
class HistoryEntry:
    """One review action with the e-mail of the physician who took it."""

    action: ReviewAction
    actor_email: str


@dataclass(frozen=True)
class Detail:
    """Everything the detail page shows about one submission."""

    submission: Submission
    #: The newest automated decision (None only if the rules never ran), and the earlier ones, newest first.
    decision: Decision | None
    earlier_decisions: tuple[Decision, ...]
    #: Review actions, oldest first.
    actions: tuple[HistoryEntry, ...]
    alerts: tuple[Alert, ...]
    assignee_email: str | None
    #: The messages to the patient about the physicians' decisions, and every event of them, oldest first.
    messages: tuple[MessageRow, ...] = ()
    message_events: tuple[MessageEvent, ...] = ()

    @property
    def history(self) -> list[HistoryEntry | MessageEvent]:
        """Return the review actions and the events of the messages to the patient, oldest first."""
        entries: list[HistoryEntry | MessageEvent] = [*self.actions, *self.message_events]
        return sorted(entries, key=lambda entry: entry.at if isinstance(entry, MessageEvent) else entry.action.at)

    @property
    def alert_failed(self) -> bool:
        """Return True when an urgent alert about this submission could not be sent."""
        return any(alert.status == "failed" for alert in self.alerts)

    @property
    def escalated(self) -> bool:
        """Return True when nobody claimed this safety submission in time and the on-call list was alerted again."""
        return any(alert.kind == ESCALATION for alert in self.alerts)


def submission_detail(session: orm.Session, submission_id: int) -> Detail:
    """Return the submission with its automated decisions, review history, alerts and assignee."""
    submission = session.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        raise ReviewNotFound("There is no submission with this number.")
    decisions = session.scalars(
        sa.select(Decision).where(Decision.submission_id == submission_id).order_by(Decision.id.desc())
    ).all()
    history = session.execute(
        sa.select(ReviewAction, User.email)
        .join(User, User.id == ReviewAction.actor_id)
        .where(ReviewAction.submission_id == submission_id)
        .order_by(ReviewAction.id)
    )
    alerts = session.scalars(sa.select(Alert).where(Alert.submission_id == submission_id).order_by(Alert.id)).all()
    assignee = session.get(User, submission.assignee_id) if submission.assignee_id is not None else None
    messages = messages_of(session, submission_id)
    return Detail(
        submission=submission,
        decision=decisions[0] if decisions else None,
        earlier_decisions=tuple(decisions[1:]),
        actions=tuple(HistoryEntry(action, email) for action, email in history),
        alerts=tuple(alerts),
        assignee_email=assignee.email if assignee is not None else None,
        messages=messages,
        message_events=events_of(session, messages),
    )


def record_view(
    session: orm.Session, submission_id: int, user: User, now: datetime, *, remote_addr: str | None = None
) -> None:
    """Record that ``user`` opened a submission's detail page."""
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="submission.viewed",
        subject_type="submission",
        subject_id=submission_id,
        at=now,
        remote_addr=remote_addr,
    )
