"""How the physicians' pages write times, waits and fact values: plain functions the templates call."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any


def waited(delta: timedelta) -> str:
    """Return a waiting time as a person reads it: "25 min", "3 h", "2 d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def utc(moment: datetime | None) -> str:
    """Return a timestamp in UTC, to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def fact_value(value: Any) -> str:
    """Return a fact value as text: yes/no, a list joined, numbers without trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(map(fact_value, value)) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
