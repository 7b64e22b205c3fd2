"""The data dictionary of the quality export, as REDCap writes one: a CSV row per column of the export.

Everything in it comes from ``quality_csv.COLUMNS``, whose score columns are derived from the instrument
definitions: names, the instrument each belongs to, labels, types, the choices of coded columns as
"value, label | value, label", ranges and notes. Nothing about any patient is in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy import orm

from ..engine.model import RuleSet
from . import csv_stream
from .quality_csv import COLUMNS
from .quality_csv import Column
from .quality_csv import record_export

#: The audit action of downloading the dictionary.
EXPORTED = "data_dictionary.exported"
FILE_NAME = "quality-data-dictionary.csv"
#: The first columns of a REDCap data dictionary, under REDCap's own headings.
HEADER = (
    "Variable / Field Name",
    "Form Name",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
)


def choices_text(choices: tuple[tuple[str, str], ...]) -> str:
    """Return coded choices as REDCap writes them: "value, label | value, label"."""
    return " | ".join(f"{value}, {label}" for value, label in choices)


def dictionary_row(column: Column) -> list[str]:
    """Return the dictionary's row about one column of the export."""
    cells = [
        column.name,
        column.form,
        column.field_type,
        column.label,
        choices_text(column.choices),
        column.note,
        column.validation,
        "" if column.minimum is None else str(column.minimum),
        "" if column.maximum is None else str(column.maximum),
    ]
    return csv_stream.inert(cells)


def columns(outcomes: Mapping[str, str] | None = None) -> tuple[Column, ...]:
    """Return the export's columns; with the active rule set's outcomes (code: title), the outcome is coded too."""
    if not outcomes:
        return COLUMNS
    coded = {"outcome": tuple(outcomes.items())}
    return tuple(
        replace(column, field_type="dropdown", choices=coded[column.name]) if column.name in coded else column
        for column in COLUMNS
    )


def csv_lines(outcomes: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yield the data dictionary as CSV, the header first."""
    return csv_stream.csv_lines(HEADER, map(dictionary_row, columns(outcomes)))


def outcome_titles(ruleset: RuleSet | None) -> dict[str, str]:
    """Return the outcomes of a rule set (code: title), for the outcome column's choices; none without one."""
    return {} if ruleset is None else {code: spec.title for code, spec in ruleset.outcomes.items()}


def record_download(session: orm.Session, *, actor: str, at: datetime, remote_addr: str | None = None) -> None:
    """Add the audit event of handing out the dictionary (it holds no patient's data, but every export is audited)."""
    record_export(session, EXPORTED, {"columns": len(COLUMNS)}, actor=actor, at=at, remote_addr=remote_addr)
