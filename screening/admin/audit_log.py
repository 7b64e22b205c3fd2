"""Reading the audit trail: filters, newest-first pages by keyset, and the CSV export. Read-only.

A page is one query ordered by (at, id) descending and cut by a keyset cursor, so the database
walks ``ix_audit_event_at`` backwards from the cursor and stops after one page: page 300 costs
what page 1 costs. The export is one Core query in the same order, streamed: its rows are written
as they arrive, so it never holds the table (or ORM objects of it) in memory (``exports.csv_stream``, which the other
exports share).
Nothing here writes, changes or deletes an audit row; recording that someone looked is the view's job.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from .. import passwords
from ..audit import DetailValue
from ..exports import csv_stream
from ..exports.days import DATE_MESSAGE
from ..exports.days import ORDER_MESSAGE
from ..exports.days import parse_day
from ..exports.days import start_of
from ..models import AuditEvent
from ..models import User

PAGE_SIZE = 50
EXPORT_BATCH = csv_stream.BATCH
CSV_COLUMNS = ("id", "at", "actor", "action", "subject_type", "subject_id", "remote_addr", "details")
#: Offered as suggestions in the filter form; any other value can be typed.
KNOWN_ACTIONS = (
    "alert.escalated",
    "alert.failed",
    "alert.sent",
    "audit.exported",
    "audit.viewed",
    "auth.locked",
    "auth.session_expired",
    "auth.sign_in_failed",
    "auth.signed_in",
    "auth.signed_out",
    "contact.purged",
    "contact.viewed",
    "data_dictionary.exported",
    "decision.reevaluated",
    "drafts.purged",
    "fhir.bundle_downloaded",
    "fhir.exported",
    "quality_csv.exported",
    "review.claimed",
    "review.decided",
    "review.released",
    "review.reopened",
    "review.taken_over",
    "ruleset.activated",
    "ruleset.approval_refused",
    "ruleset.approved",
    "ruleset.backtest_started",
    "ruleset.draft_created",
    "ruleset.draft_discarded",
    "ruleset.draft_file_removed",
    "ruleset.draft_saved",
    "ruleset.draft_sent_back",
    "ruleset.draft_submitted",
    "ruleset.draft_withdrawn",
    "ruleset.rolled_back",
    "submission.created",
    "submission.viewed",
    "submissions.seeded",
    "user.created",
    "user.disabled",
    "user.role_changed",
)
KNOWN_SUBJECT_TYPES = (
    "alert",
    "audit_event",
    "backtest_run",
    "draft",
    "rule_draft",
    "ruleset_version",
    "submission",
    "submission_contact",
    "user",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT = 64


@dataclass(frozen=True)
class AuditFilters:
    """What the admin asked to see; every field is optional. Dates are UTC days, both inclusive."""

    action: str | None = None
    actor: str | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    since: date | None = None
    until: date | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """Return the WHERE conditions of these filters."""
        conditions: list[sa.ColumnElement[bool]] = []
        if self.action is not None:
            if self.action.endswith("*"):  # "review.*": every review action
                conditions.append(AuditEvent.action.startswith(self.action[:-1], autoescape=True))
            else:
                conditions.append(AuditEvent.action == self.action)
        if self.actor is not None:
            conditions.append(AuditEvent.actor == self.actor)
        if self.subject_type is not None:
            conditions.append(AuditEvent.subject_type == self.subject_type)
        if self.subject_id is not None:
            conditions.append(AuditEvent.subject_id == self.subject_id)
        if self.since is not None:
            conditions.append(AuditEvent.at >= start_of(self.since))
        if self.until is not None:
            conditions.append(AuditEvent.at < start_of(self.until + timedelta(days=1)))
        return conditions

    def as_args(self) -> dict[str, str]:
        """Return the filters as the query string of the page (for links to other pages and the export)."""
        values = {
            "action": self.action,
            "actor": self.actor,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "from": self.since,
            "to": self.until,
        }
        return {key: str(value) for key, value in values.items() if value is not None}

    def as_details(self) -> dict[str, DetailValue]:
        """Return the filters for the audit event of viewing them: identifiers and dates only."""
        return {f"filter_{key}": value for key, value in self.as_args().items()}


@dataclass(frozen=True)
class AuditPage:
    """One page of events, newest first, and the cursor of the next (older) page, None on the last."""

    rows: tuple[AuditEvent, ...]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A page cursor that this module did not make."""


def parse_filters(session: orm.Session, args: Mapping[str, str]) -> tuple[AuditFilters, dict[str, str]]:
    """Return the filters in ``args`` and a message per field that could not be read.

    ``actor`` may be an audit actor ("user:3", "cli", "patient") or a user's email address,
    which is turned into that user's actor.
    """
    errors: dict[str, str] = {}
    action = _text(args, "action", errors)
    actor = _text(args, "actor", errors)
    if actor is not None and "@" in actor:
        user_id = session.scalar(sa.select(User.id).where(User.email == passwords.normalize_email(actor)))
        if user_id is None:
            errors["actor"] = "No user has this email address."
        actor = None if user_id is None else f"user:{user_id}"
    filters = AuditFilters(
        action=action,
        actor=actor,
        subject_type=_text(args, "subject_type", errors),
        subject_id=_integer(args, "subject_id", errors),
        since=_date(args, "from", errors),
        until=_date(args, "to", errors),
    )
    if filters.since and filters.until and filters.since > filters.until:
        errors["to"] = ORDER_MESSAGE
    return filters, errors


def _text(args: Mapping[str, str], name: str, errors: dict[str, str]) -> str | None:
    """Return a trimmed text filter, None when empty."""
    value = (args.get(name) or "").strip()
    if len(value) > _MAX_TEXT or not value.isprintable():
        errors[name] = f"Enter at most {_MAX_TEXT} characters, without line breaks."
        return None
    return value or None


def _integer(args: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    """Return a whole-number filter, None when empty."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        errors[name] = "Enter a whole number, such as 42."
        return None
    return int(value)


def _date(args: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    """Return a date filter given as YYYY-MM-DD, None when empty."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    parsed = parse_day(value)
    if parsed is None:
        errors[name] = DATE_MESSAGE
    return parsed


#: Numbers in a page link beyond this fit no database integer column (a damaged or forged link).
_INTEGER_LIMIT = 2**31


def encode_cursor(event: AuditEvent) -> str:
    """Return an opaque cursor for the position just after (older than) ``event``."""
    micros = (event.at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{event.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the (at, id) a cursor names; raise InvalidCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        micros, event_id = (int(part) for part in raw.split("."))
        if abs(event_id) >= _INTEGER_LIMIT:
            raise ValueError("a number beyond the database's integers")
        return _EPOCH + timedelta(microseconds=micros), event_id
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise InvalidCursor(cursor) from None


def _older_than(at: datetime, event_id: int) -> sa.ColumnElement[bool]:
    """Return the keyset condition: events strictly after (at, id) in newest-first order."""
    return sa.tuple_(AuditEvent.at, AuditEvent.id) < sa.tuple_(
        sa.literal(at, AuditEvent.__table__.c.at.type), sa.literal(event_id, sa.Integer())
    )


def _select(filters: AuditFilters, after: tuple[datetime, int] | None, limit: int) -> sa.Select[tuple[AuditEvent]]:
    """Return the query of up to ``limit`` events after ``after``, newest first."""
    conditions = filters.conditions()
    if after is not None:
        conditions.append(_older_than(*after))
    return sa.select(AuditEvent).where(*conditions).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)


def audit_page(
    session: orm.Session, filters: AuditFilters, *, before: str | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """Return one page of events matching ``filters``, newest first, older than the cursor ``before``."""
    after = decode_cursor(before) if before else None
    rows = list(session.scalars(_select(filters, after, limit + 1)))
    if len(rows) <= limit:
        return AuditPage(tuple(rows), None)
    return AuditPage(tuple(rows[:limit]), encode_cursor(rows[limit - 1]))


def export_query(filters: AuditFilters, *, below_id: int | None = None) -> sa.Select[tuple[Any, ...]]:
    """Return the export's one query: the CSV's columns of every matching event, newest first.

    ``below_id`` leaves out the events recorded from that one on (the export's own, and any later).
    """
    conditions = filters.conditions()
    if below_id is not None:
        conditions.append(AuditEvent.id < below_id)
    columns = [AuditEvent.__table__.c[name] for name in CSV_COLUMNS]
    return sa.select(*columns).where(*conditions).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def iter_events(
    session: orm.Session, filters: AuditFilters, *, below_id: int | None = None, batch: int = EXPORT_BATCH
) -> Iterator[sa.Row[tuple[Any, ...]]]:
    """Yield every event matching ``filters`` as a row of plain values, newest first.

    One Core query, read ``batch`` rows at a time as they come (a server-side cursor on PostgreSQL;
    SQLite steps through its result anyway): no ORM objects, and memory stays flat however long the export.
    """
    yield from csv_stream.stream_rows(session, export_query(filters, below_id=below_id), batch=batch)


class EventCells(Protocol):
    """What a CSV row is made of: an ``AuditEvent``, or a row of the export's query."""

    @property
    def id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def subject_id(self) -> int | None: ...
    @property
    def remote_addr(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...


def details_text(event: EventCells) -> str:
    """Return an event's details as JSON with sorted keys."""
    return json.dumps(event.details, sort_keys=True)


def csv_row(event: EventCells) -> list[str]:
    """Return the CSV cells of one event: times in UTC ISO 8601, details as JSON."""
    cells = [
        str(event.id),
        event.at.astimezone(UTC).isoformat(),
        event.actor,
        event.action,
        event.subject_type,
        "" if event.subject_id is None else str(event.subject_id),
        event.remote_addr or "",
        details_text(event),
    ]
    return csv_stream.inert(cells)


def csv_lines(events: Iterable[EventCells], *, chunk_size: int = csv_stream.CHUNK_SIZE) -> Iterator[str]:
    """Yield the CSV export in pieces of about ``chunk_size`` characters, the header alone first."""
    return csv_stream.csv_lines(CSV_COLUMNS, map(csv_row, events), chunk_size=chunk_size)
