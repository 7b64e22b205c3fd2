"""Record audit events in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import orm

from .models import AuditEvent

#: Values allowed in an audit event's details: identifiers and versions, never answers.
DetailValue = str | int | bool | None


def record(
    session: orm.Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    at: datetime,
    remote_addr: str | None = None,
    details: dict[str, DetailValue] | None = None,
) -> AuditEvent:
    """Add an audit event to ``session``; the caller commits it with the change it describes."""
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        remote_addr=remote_addr,
        details=_checked(details or {}),
    )
    session.add(event)
    return event


def _checked(details: dict[str, Any]) -> dict[str, DetailValue]:
    """Refuse nested structures, so that no answers document can slip into an audit row."""
    for key, value in details.items():
        if not isinstance(value, str | int | bool | type(None)):
            raise TypeError(f"audit detail {key!r} must be a scalar identifier, not {type(value).__name__}")
    return details
