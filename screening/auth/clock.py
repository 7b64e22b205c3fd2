"""The clock of sign-in, sessions, the clinic pages and the safety escalation: ``now()``. Tests monkeypatch it, so call it as ``clock.now()``."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)
