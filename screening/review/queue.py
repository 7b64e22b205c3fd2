"""The review queue: open work in priority order, read one page at a time by keyset.

A page reads each listed status with its own indexed query (open and claimed, unless a status
filter names one) and merges the sorted results. Each query is an index seek: ``ix_submission_queue``
is (status, needs_action, priority, submitted_at, id), so one status and one needs_action value
are one contiguous range in sort order, and the decided submissions, however many, are never
walked past. The cursor names the last row of the previous page by its sort key (priority,
submitted_at, id), so page 500 costs what page 1 costs, instead of counting past the rows before
it as OFFSET would. With an outcome filter, ``ix_submission_queue_outcome`` does the same.
The counts per outcome are not counted here either: the database keeps them in step (``QueueCount``).
"""

from __future__ import annotations

import base64
import binascii
import heapq
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from ..alerts import ESCALATION
from ..models import Alert
from ..models import QueueCount
from ..models import Submission
from ..models import User
from .errors import ReviewInvalid

#: Where a submission's review stands.
STATUSES = ("open", "claimed", "decided")
#: The statuses of work still to do: what the queue lists unless a status filter asks otherwise.
OPEN_STATUSES = ("open", "claimed")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue: enough to pick a case without loading its answers."""

    id: int
    reference: str
    submitted_at: datetime
    outcome: str | None
    priority: int | None
    needs_action: bool
    status: str
    assignee_id: int | None
    assignee_email: str | None
    safety_flag: bool
    #: An urgent alert e-mail about this submission could not be sent.
    alert_failed: bool
    #: Nobody claimed this safety submission in time, and the on-call list was alerted again.
    escalated: bool

    def waiting(self, now: datetime) -> timedelta:
        """Return how long the submission has waited since it was sent."""
        return now - self.submitted_at


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and the cursor of the next page (None on the last page)."""

    rows: tuple[QueueRow, ...]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        """Return True when another page follows."""
        return self.next_cursor is not None


#: Numbers in a page link beyond this fit no database integer column (a damaged or forged link).
_INTEGER_LIMIT = 2**31


def encode_cursor(priority: int, submitted_at: datetime, submission_id: int) -> str:
    """Return an opaque page cursor for the position just after this sort key."""
    micros = (submitted_at - _EPOCH) // timedelta(microseconds=1)
    raw = f"{priority}.{micros}.{submission_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    """Return the sort key a cursor names; raise ReviewInvalid for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        priority, micros, submission_id = (int(part) for part in raw.split("."))
        if not all(abs(number) < _INTEGER_LIMIT for number in (priority, submission_id)):
            raise ValueError("a number beyond the database's integers")
        return priority, _EPOCH + timedelta(microseconds=micros), submission_id
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise ReviewInvalid("This page link is not valid. Please start again from the first page.") from None


def _alert_failed() -> sa.Exists:
    """Return an EXISTS test for a failed alert about the submission of the row."""
    return sa.exists().where(Alert.submission_id == Submission.id, Alert.status == "failed")


def _escalated() -> sa.Exists:
    """Return an EXISTS test for a re-alert about the submission of the row."""
    return sa.exists().where(Alert.submission_id == Submission.id, Alert.kind == ESCALATION)


def _statuses(status: str | None) -> tuple[str, ...]:
    """Return the statuses a page lists: the filter's, else the open work."""
    if status is None:
        return OPEN_STATUSES
    if status not in STATUSES:
        raise ReviewInvalid(f"Unknown status filter {status!r}: choose one of {', '.join(STATUSES)}.")
    return (status,)


def _filters(outcome: str | None, assignee_id: int | None, needs_action: bool) -> list[sa.ColumnElement[bool]]:
    """Return the WHERE conditions of the queue's filters other than the status."""
    conditions = [Submission.needs_action == needs_action]
    if outcome is not None:
        conditions.append(Submission.outcome == outcome)
    if assignee_id is not None:
        conditions.append(Submission.assignee_id == assignee_id)
    return conditions


def _after(cursor: str) -> sa.ColumnElement[bool]:
    """Return the keyset condition: rows strictly after the cursor's sort key."""
    priority, submitted_at, submission_id = decode_cursor(cursor)
    key = sa.tuple_(Submission.priority, Submission.submitted_at, Submission.id)
    return key > sa.tuple_(
        sa.literal(priority, sa.Integer()),
        sa.literal(submitted_at, Submission.__table__.c.submitted_at.type),
        sa.literal(submission_id, sa.Integer()),
    )


def queue_page(
    session: orm.Session,
    *,
    outcome: str | None = None,
    status: str | None = None,
    assignee_id: int | None = None,
    needs_action: bool = True,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> QueuePage:
    """Return one page of the queue: safety first, then by priority, oldest first, then by id.

    Without ``status``, only open and claimed submissions are listed; ``needs_action=False``
    lists the submissions needing no action (counseling, not a candidate) the same way.
    ``after`` is the ``next_cursor`` of the previous page.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    statuses = _statuses(status)
    conditions = _filters(outcome, assignee_id, needs_action)
    if after:
        conditions.append(_after(after))
    per_status = [_page_of_status(session, one, conditions, limit + 1) for one in statuses]
    rows = list(heapq.merge(*per_status, key=_sort_key))[: limit + 1]
    if len(rows) <= limit:
        return QueuePage(tuple(rows), None)
    last = rows[limit - 1]
    return QueuePage(tuple(rows[:limit]), encode_cursor(last.priority or 0, last.submitted_at, last.id))


def _page_of_status(
    session: orm.Session, status: str, conditions: list[sa.ColumnElement[bool]], limit: int
) -> list[QueueRow]:
    """Return up to ``limit`` rows of one status in queue order: one index seek."""
    query = (
        sa.select(Submission.id, Submission.reference, Submission.submitted_at, Submission.outcome,
                  Submission.priority, Submission.needs_action, Submission.status, Submission.assignee_id,
                  User.email, Submission.safety_flag, _alert_failed(), _escalated())
        .outerjoin(User, User.id == Submission.assignee_id)
        .where(Submission.status == status, *conditions)
        .order_by(Submission.priority, Submission.submitted_at, Submission.id)
        .limit(limit)
    )  # fmt: skip
    return [QueueRow(*row) for row in session.execute(query)]


def _sort_key(row: QueueRow) -> tuple[int, datetime, int]:
    """Return a row's position in the queue, as the queries order it."""
    return (row.priority or 0, row.submitted_at, row.id)


def outcome_counts(session: orm.Session, needs_action: bool | None = None) -> dict[str, int]:
    """Return how many open or claimed submissions there are per outcome ("unknown": none yet).

    The counts are kept in step by the database (``QueueCount``), so this reads a row per outcome
    however long the queue is.
    """
    query = sa.select(QueueCount.outcome, sa.func.sum(QueueCount.total)).where(QueueCount.total > 0)
    if needs_action is not None:
        query = query.where(QueueCount.needs_action == needs_action)
    query = query.group_by(QueueCount.outcome).order_by(QueueCount.outcome)
    return {outcome or "unknown": int(count) for outcome, count in session.execute(query)}
