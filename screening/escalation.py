"""Safety follow-up that cannot be forgotten: a safety submission nobody claimed in time re-alerts the on-call list.

Every minute the alert consumer runs ``run_escalation``: each safety submission that is still open (no
physician holds it: never claimed, or released and left) and that was sent, or last released, more than
SAFETY_ESCALATION_MINUTES ago gets one alert of kind ESCALATION,
audited, and sent by the alert queue's own task like any urgent alert, with its retries and recorded
failures. A partial unique index keeps it to one per submission even when two alert consumers escalate
the same submission at the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from huey import Huey
from huey import crontab
from sqlalchemy import orm

from . import alerts
from . import audit
from .auth import clock
from .db import new_session
from .models import Alert
from .models import ReviewAction
from .models import Submission
from .queues import ALERT_QUEUE_NAME
from .queues import add_tasks

#: The periodic task on the alert queue, as huey names it.
TASK = "screening.escalation.escalate_unclaimed_safety"


def init_app(app: Flask) -> None:
    """Have the alert consumer run the escalation every minute."""
    add_tasks(app, ALERT_QUEUE_NAME, register_tasks)


def register_tasks(huey: Huey, app: Flask) -> None:
    """Register the escalation on the alert queue ``huey``, every minute, bound to ``app``."""

    @huey.periodic_task(crontab())
    def escalate_unclaimed_safety() -> None:
        """Re-alert the on-call list about every safety submission nobody claimed in time."""
        run_escalation(app)


def run_escalation(app: Flask) -> list[int]:
    """Escalate what is overdue at the app's clock, commit, and queue each re-alert; return their ids.

    When another alert consumer escalated one of the same submissions a moment earlier, the database
    refuses the second re-alert: nothing is added now, and the next minute takes any others.
    """
    with new_session(app) as session:
        try:
            created = escalate_unclaimed(session, app.config, clock.now())
            session.commit()
        except sa.exc.IntegrityError:
            session.rollback()
            return []
        ids = [alert.id for alert in created]
        alerts.enqueue_created(app, session)
    return ids


def escalate_unclaimed(session: orm.Session, config: Mapping[str, Any], now: datetime) -> list[Alert]:
    """Add, in the caller's transaction, a re-alert for each safety submission overdue at ``now``; return them."""
    minutes = int(config[alerts.ESCALATION_MINUTES])
    created = []
    for submission in overdue(session, now - timedelta(minutes=minutes)):
        alert = alerts.create_safety_alert(session, submission, now, kind=alerts.ESCALATION)
        session.flush()
        audit.record(
            session,
            actor="system",
            action="alert.escalated",
            subject_type="alert",
            subject_id=alert.id,
            at=now,
            details={"submission_id": submission.id, "minutes": minutes},
        )
        created.append(alert)
    return created


def overdue(session: orm.Session, left_before: datetime) -> list[Submission]:
    """Return the open safety submissions nobody has held since before ``left_before``, not escalated yet.

    Open means no physician holds it: never claimed, or released (or reopened) and left. It is overdue once
    its sending, or its last review action, is older than ``left_before``.
    """
    last_action = (
        sa.select(sa.func.max(ReviewAction.at)).where(ReviewAction.submission_id == Submission.id).scalar_subquery()
    )
    escalated = sa.exists().where(Alert.submission_id == Submission.id, Alert.kind == alerts.ESCALATION)
    query = (
        sa.select(Submission)
        .where(
            Submission.status == "open",
            Submission.safety_flag.is_(True),
            sa.func.coalesce(last_action, Submission.submitted_at) < left_before,
            ~escalated,
        )
        .order_by(Submission.submitted_at, Submission.id)
        .options(orm.load_only(Submission.id))  # the answers are not needed, nor read
    )
    return list(session.scalars(query))
