"""The shapes every instrument definition is written in.

An instrument is data: its items in the published wording, the answer options with
their points, the time frame, the severity bands, its source and licence. Forms,
scoring and the read-only display of answers are all derived from one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from typing import Sequence


@dataclass(frozen=True)
class Option:
    """One answer a patient can pick, and the points it scores."""

    points: int
    label: str


@dataclass(frozen=True)
class Item:
    """One question, worded as published.

    ``options`` is empty when the item uses its instrument's common options.
    """

    key: str
    text: str
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Band:
    """A severity band: totals from ``minimum`` up to the next band's minimum."""

    name: str
    label: str
    minimum: int


@dataclass(frozen=True)
class Source:
    """Where an instrument comes from and under which terms it may be used."""

    citation: str
    licence: str
    pmid: str | None = None


@dataclass(frozen=True)
class Instrument:
    """A questionnaire whose items are all answered on a points scale and summed."""

    key: str
    title: str
    time_frame: str
    stem: str
    items: tuple[Item, ...]
    options: tuple[Option, ...]
    bands: tuple[Band, ...]
    source: Source
    notes: tuple[str, ...] = field(default=())

    def options_for(self, item: Item) -> tuple[Option, ...]:
        """Return the options offered for ``item``."""
        return item.options or self.options

    @cached_property
    def points_by_item(self) -> tuple[tuple[int, ...], ...]:
        """Return, item by item, the points its options score (scoring checks every answer against them)."""
        return tuple(tuple(option.points for option in self.options_for(item)) for item in self.items)

    @property
    def max_total(self) -> int:
        """Return the highest total the instrument can score."""
        return sum(max(o.points for o in self.options_for(i)) for i in self.items)

    def option_label(self, item_index: int, points: int) -> str:
        """Return the label of the option worth ``points`` for the item at ``item_index``."""
        for option in self.options_for(self.items[item_index]):
            if option.points == points:
                return option.label
        raise ValueError(f"{self.key} item {item_index + 1} has no option worth {points}")


def band_for(bands: Sequence[Band], total: int) -> Band:
    """Return the band a total falls in; bands are inclusive at their lower bound."""
    ordered = sorted(bands, key=lambda b: b.minimum)
    if total < ordered[0].minimum:
        raise ValueError(f"total {total} is below the lowest band")
    chosen = ordered[0]
    for band in ordered:
        if total >= band.minimum:
            chosen = band
    return chosen
