"""Days as exports and filters are asked for them: ISO dates (YYYY-MM-DD), UTC, both ends inclusive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from ..errors import Invalid

#: What to type, said the same way on every page and command that asks for a day.
DATE_MESSAGE = "Enter a date as YYYY-MM-DD, such as 2026-11-24."
ORDER_MESSAGE = "The end date is before the start date."
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DayRangeInvalid(Invalid):
    """A day that is not a YYYY-MM-DD date, or a range that ends before it starts; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def parse_day(text: str) -> date | None:
    """Return the day ``text`` names as YYYY-MM-DD, None for anything else."""
    value = text.strip()
    if not _ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # such as 2026-02-30
        return None


def start_of(day: date) -> datetime:
    """Return midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class DayRange:
    """From the first day to the last, both inclusive, in UTC."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str, last: str, *, names: tuple[str, str] = ("from", "to")) -> DayRange:
        """Return the range of two YYYY-MM-DD texts; raise DayRangeInvalid naming the first field that is wrong."""
        days = []
        for name, text in zip(names, (first, last), strict=True):
            day = parse_day(text)
            if day is None:
                raise DayRangeInvalid(name, DATE_MESSAGE)
            days.append(day)
        if days[0] > days[1]:
            raise DayRangeInvalid(names[1], ORDER_MESSAGE)
        return cls(days[0], days[1])

    def contains(self, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[bool]:
        """Return the condition that a time column falls on one of the range's days."""
        return sa.and_(column >= start_of(self.first), column < start_of(self.last + timedelta(days=1)))

    def as_details(self) -> dict[str, str]:
        """Return the range for an audit event: its two days."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}
