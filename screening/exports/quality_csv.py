"""The quality-review export: one CSV row per submission of a day range, scores and outcomes only.

Each row holds the reference code, the day it was submitted, the form and rule set versions, every total score
and its band, the ACR 2016 result, the outcome, where the review stands and the physician's decision (its kind
and day). Never free text (notes, medicine names), never contact details, never an exact time: the query reads
no column that holds them, and times are cut to the UTC day.

The columns are data (``COLUMNS``), each score column derived from its instrument's definition, so the data
dictionary (``data_dictionary``) describes exactly what is written. Rows come from one streamed Core query in
submission order; ``start_export`` fixes the rows first (how many, up to which id) and audits the export, so the
audit row holds the range and the count and a submission sent while the file is written is not in it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..instruments import FS_BANDS
from ..instruments import GAD7
from ..instruments import ISI
from ..instruments import PAIN_AREAS
from ..instruments import PAIN_AVERAGE
from ..instruments import PHQ9
from ..instruments import REGIONS
from ..instruments import SSS_SOMATIC
from ..instruments import SSS_SYMPTOMS
from ..instruments import Band
from ..instruments import Instrument
from ..instruments import scoring
from ..instruments.acr2016 import SOURCE as ACR2016
from ..models import Decision
from ..models import ReviewAction
from ..models import Submission
from ..review.pages import DECISION_LABELS
from ..review.pages import STATUS_LABELS
from . import csv_stream
from .days import DayRange

#: The audit action of a quality export.
EXPORTED = "quality_csv.exported"
#: REDCap's yes/no field: 1 is yes, 0 is no.
YES_NO = (("1", "Yes"), ("0", "No"))

Row = sa.Row[tuple[Any, ...]]
#: Scores whose band ``scoring.Scores`` stores under another name than "<score>_band".
_BAND_KEYS = {"pain_average": "pain_band"}


@dataclass(frozen=True)
class Column:
    """One column of the export and how the data dictionary describes it (REDCap's terms)."""

    name: str
    #: The instrument (or "submission", "review") the value belongs to.
    form: str
    label: str
    cell: Callable[[Row], str]
    #: REDCap field type: text, dropdown or yesno.
    field_type: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    note: str = ""
    #: REDCap text validation: integer, date_ymd, or none.
    validation: str = ""
    minimum: int | None = None
    maximum: int | None = None


def _day(value: datetime | None) -> str:
    """Return the UTC day of a time as YYYY-MM-DD, "" for none: no export holds an exact time."""
    return "" if value is None else value.astimezone(UTC).date().isoformat()


def _text(name: str) -> Callable[[Row], str]:
    """Return the cell of a plain column of the query."""
    return lambda row: str(getattr(row, name) or "")


def _flag(name: str) -> Callable[[Row], str]:
    """Return the cell of a yes/no column of the query, as REDCap writes it: 1 or 0."""
    return lambda row: "1" if getattr(row, name) else "0"


def _score(key: str) -> Callable[[Row], str]:
    """Return the cell of one stored score (``scoring.Scores``): booleans as 1/0, "" when not scored."""

    def cell(row: Row) -> str:
        value = (row.scores or {}).get(key)
        if value is None:
            return ""
        return str(int(value)) if isinstance(value, bool) else str(value)

    return cell


def _decided(cell: Callable[[Row], str]) -> Callable[[Row], str]:
    """Return ``cell`` for a decided submission, "" for one still open or claimed (a reopened decision is void)."""
    return lambda row: cell(row) if row.status == "decided" else ""


def _band_cuts(bands: tuple[Band, ...], maximum: int) -> str:
    """Return the bands' ranges as "name a-b" text, from their minimums and the highest total."""
    ordered = sorted(bands, key=lambda band: band.minimum)
    tops = [band.minimum - 1 for band in ordered[1:]] + [maximum]
    return "; ".join(f"{band.name} {band.minimum}-{top}" for band, top in zip(ordered, tops, strict=True))


def _total_and_band(
    key: str, form: str, title: str, maximum: int, bands: tuple[Band, ...], note: str
) -> tuple[Column, Column]:
    """Return the columns of a total score and of its band, read from the scores ``key`` and its band's."""
    total = Column(
        f"{key}_total", form, f"{title}: total score", _score(key), note=note,
        validation="integer", minimum=0, maximum=maximum,
    )  # fmt: skip
    band = Column(
        f"{key}_band", form, f"{title}: severity band", _score(_BAND_KEYS.get(key, f"{key}_band")), field_type="dropdown",
        choices=tuple((b.name, b.label) for b in bands), note=f"Bands by total: {_band_cuts(bands, maximum)}.",
    )  # fmt: skip
    return total, band


def _instrument_columns(instrument: Instrument) -> tuple[Column, Column]:
    """Return the total and band columns of a questionnaire, from its definition."""
    count = len(instrument.items)
    what = f"Sum of {count} items" if count > 1 else f"One 0-{instrument.max_total} rating"
    note = f"{what}, over {instrument.time_frame}."
    return _total_and_band(
        instrument.key, instrument.key, instrument.title, instrument.max_total, instrument.bands, note
    )


_SSS_MAX = SSS_SYMPTOMS.max_total + SSS_SOMATIC.max_total
_ACR2016_NOTE = (
    f"Self-reported answers consistent with the ACR 2016 criteria: WPI >= {scoring.WPI_HIGH} with SSS >= "
    f"{scoring.SSS_WITH_HIGH_WPI}, or WPI {scoring.WPI_LOW}-{scoring.WPI_HIGH - 1} with SSS >= "
    f"{scoring.SSS_WITH_LOW_WPI}; pain in at least {scoring.MIN_GENERALIZED_REGIONS} of {len(REGIONS)} regions; "
    f"for at least {scoring.MIN_DURATION_MONTHS} months. Not a diagnosis."
)

COLUMNS: tuple[Column, ...] = (
    Column("reference", "submission", "Reference code the patient was given", _text("reference")),
    Column(
        "submitted_on", "submission", "Day submitted (UTC)", lambda row: _day(row.submitted_at),
        note="The day only: no export holds the time.", validation="date_ymd",
    ),
    Column("form_version", "submission", "Version of the intake form", _text("form_version")),
    Column(
        "ruleset_version", "submission", "Rule set version of the automated decision (content hash)",
        _text("ruleset_version"), note="Empty when no rule set could be used.",
    ),
    Column(
        "safety_flag", "submission", "PHQ-9 item 9 above 0 at any point of the intake", _flag("safety_flag"),
        field_type="yesno", choices=YES_NO,
    ),
    *_instrument_columns(PHQ9),
    *_instrument_columns(GAD7),
    *_instrument_columns(ISI),
    *_instrument_columns(PAIN_AVERAGE),
    Column(
        "wpi_total", "acr2016", "Widespread Pain Index (ACR 2016)", _score("wpi"),
        note=f"How many of the {len(PAIN_AREAS)} areas were painful over the past week.", validation="integer",
        minimum=0, maximum=len(PAIN_AREAS),
    ),
    Column(
        "sss_total", "acr2016", "Symptom Severity Scale (ACR 2016)", _score("sss"),
        note=f"Part A ({SSS_SYMPTOMS.time_frame}) plus part B ({SSS_SOMATIC.time_frame}).",
        validation="integer", minimum=0, maximum=_SSS_MAX,
    ),
    *_total_and_band(
        "fs", "acr2016", "Fibromyalgia severity (WPI + SSS)", len(PAIN_AREAS) + _SSS_MAX, FS_BANDS,
        "Also called polysymptomatic distress.",
    ),
    Column(
        "generalized_pain_regions", "acr2016", "Regions with generalized pain", _score("generalized_pain_regions"),
        note="Jaw, chest and abdomen do not count toward a region.", validation="integer",
        minimum=0, maximum=len(REGIONS),
    ),
    Column(
        "fibromyalgia_acr2016", "acr2016", "Meets the ACR 2016 fibromyalgia criteria",
        _score("fibromyalgia_acr2016"), field_type="yesno", choices=YES_NO, note=f"{_ACR2016_NOTE} {ACR2016.citation}",
    ),
    Column(
        "outcome", "review", "Outcome of the automated decision", _text("outcome"),
        note="A code of the rule set's outcomes (rules/outcomes.yaml).",
    ),
    Column(
        "review_status", "review", "Where the physician review stands", _text("status"), field_type="dropdown",
        choices=tuple(STATUS_LABELS.items()),
    ),
    Column(
        "decision", "review", "The physician's decision", _decided(_text("decision")), field_type="dropdown",
        choices=tuple(DECISION_LABELS.items()), note="Empty until decided, and again when a decision is reopened.",
    ),
    Column(
        "decided_on", "review", "Day of the physician's decision (UTC)", _decided(lambda row: _day(row.decided_at)),
        note="The day only.", validation="date_ymd",
    ),
)  # fmt: skip
HEADER: tuple[str, ...] = tuple(column.name for column in COLUMNS)


def csv_row(row: Row) -> list[str]:
    """Return the CSV cells of one submission, made inert for spreadsheets."""
    return csv_stream.inert(column.cell(row) for column in COLUMNS)


@dataclass(frozen=True)
class QualityExport:
    """An export started: its range, how many submissions it holds, and the newest submission id it may hold."""

    days: DayRange
    rows: int
    last_id: int


def _newest(
    table: sa.Table, columns: tuple[str, ...], within: sa.ColumnElement[bool], *where: sa.ColumnElement[bool]
) -> sa.Subquery:
    """Return ``columns`` of ``table``'s newest row (highest id) about each submission ``within`` the export.

    A grouped subquery, not one correlated per row: PostgreSQL answers "newest row of this submission" by walking
    the whole table's primary key backwards, once per submission, which grows with the square of the table.
    """
    newest = (
        sa.select(sa.func.max(table.c.id).label("id"))
        .join(Submission, Submission.id == table.c.submission_id)
        .where(within, *where)
        .group_by(table.c.submission_id)
        .subquery()
    )
    row = table.alias()
    chosen = [row.c.submission_id, *(row.c[name] for name in columns)]
    return sa.select(*chosen).join(newest, newest.c.id == row.c.id).subquery()


def export_query(export: QualityExport) -> sa.Select[tuple[Any, ...]]:
    """Return the export's one query: the columns the cells read, in submission order. No free-text column."""
    within = sa.and_(export.days.contains(Submission.submitted_at), Submission.id <= export.last_id)
    decision = _newest(Decision.__table__, ("ruleset_version",), within)
    decided = _newest(ReviewAction.__table__, ("decision", "at"), within, ReviewAction.action == "decide")
    return (
        sa.select(
            Submission.reference,
            Submission.submitted_at,
            Submission.form_version,
            Submission.scores,
            Submission.safety_flag,
            Submission.outcome,
            Submission.status,
            decision.c.ruleset_version,
            decided.c.decision,
            decided.c.at.label("decided_at"),
        )
        .outerjoin(decision, decision.c.submission_id == Submission.id)
        .outerjoin(decided, decided.c.submission_id == Submission.id)
        .where(within)
        .order_by(Submission.submitted_at, Submission.id)
    )


def start_export(
    session: orm.Session, days: DayRange, *, actor: str, at: datetime, remote_addr: str | None = None
) -> QualityExport:
    """Fix the rows of an export of ``days`` and record its audit event (range and count); the caller commits."""
    count, last_id = session.execute(
        sa.select(sa.func.count(Submission.id), sa.func.max(Submission.id)).where(
            days.contains(Submission.submitted_at)
        )
    ).one()
    export = QualityExport(days, count, last_id or 0)
    record_export(session, EXPORTED, {**days.as_details(), "rows": count}, actor=actor, at=at, remote_addr=remote_addr)
    return export


def record_export(
    session: orm.Session,
    action: str,
    details: dict[str, audit.DetailValue],
    *,
    actor: str,
    at: datetime,
    remote_addr: str | None = None,
) -> None:
    """Add the audit event of an export of submissions: what was asked for and how much, never a row of it."""
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="submission",
        subject_id=None,
        at=at,
        remote_addr=remote_addr,
        details=details,
    )


def csv_lines(session: orm.Session, export: QualityExport, *, batch: int = csv_stream.BATCH) -> Iterator[str]:
    """Yield the export's CSV in pieces, the header first, reading the rows as the query streams them."""
    rows = csv_stream.stream_rows(session, export_query(export), batch=batch)
    return csv_stream.csv_lines(HEADER, map(csv_row, rows))


def file_name(days: DayRange) -> str:
    """Return the download's file name, e.g. quality-2026-11-01-to-2026-11-30.csv."""
    return f"quality-{days.first.isoformat()}-to-{days.last.isoformat()}.csv"
