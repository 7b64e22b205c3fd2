"""The ``export`` commands: the clinic's data for people and systems outside the app, each export audited.

``export csv``: the quality-review CSV of a day range and its data dictionary. ``export fhir``: FHIR R4 NDJSON
files of a day range. Thin over ``screening.exports`` and ``screening.fhir``: read the days, write the files.
A bad date, or a range that ends before it starts, is one line and exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click
from flask import current_app

from .. import db
from ..active_rules import active_ruleset
from ..dbcheck import needs_database
from ..exports import data_dictionary
from ..exports import quality_csv
from ..exports.days import DayRange
from ..fhir import service as fhir
from .common import ACTOR
from .common import fail_on


@click.group("export")
def export_group() -> None:
    """Export stored submissions for people and systems outside the app; every export is audited."""


def _days(first: str, last: str) -> DayRange:
    """Read the --from and --to days, or stop with one line naming the option that is wrong."""
    return fail_on(lambda: DayRange.parse(first, last, names=("--from", "--to")))


@export_group.command("csv")
@click.option("--from", "first", required=True, metavar="DATE", help="First day submitted (YYYY-MM-DD, UTC).")
@click.option("--to", "last", required=True, metavar="DATE", help="Last day submitted (YYYY-MM-DD, UTC), included.")
@click.option(
    "--dictionary", type=click.Path(dir_okay=False), default=None, help="Also write the data dictionary (CSV) here."
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@needs_database
def csv_command(first: str, last: str, dictionary: str | None, file: str) -> None:
    """Write one row per submission of the days to FILE (- for standard output): scores, bands, outcome,
    review status and decision; no free text, no contact details, days instead of times."""
    days = _days(first, last)
    with db.new_session(current_app) as session:
        export = quality_csv.start_export(session, days, actor=ACTOR, at=datetime.now(UTC))
        session.commit()
        with click.open_file(file, "w", encoding="utf-8", atomic=file != "-") as out:
            _write(out, quality_csv.csv_lines(session, export))
        if dictionary is not None:
            data_dictionary.record_download(session, actor=ACTOR, at=datetime.now(UTC))
            session.commit()
            with click.open_file(dictionary, "w", encoding="utf-8", atomic=True) as out:
                _write(out, data_dictionary.csv_lines(data_dictionary.outcome_titles(active_ruleset())))
    click.echo(f"Wrote {export.rows} submission(s) from {days.first} to {days.last} to {file}.", err=True)


def _write(out: TextIO, pieces: Iterable[str]) -> None:
    """Write the pieces of a CSV as they come."""
    for piece in pieces:
        out.write(piece)


@export_group.command("fhir")
@click.option("--from", "first", required=True, metavar="DATE", help="First day sent (YYYY-MM-DD, UTC).")
@click.option("--to", "last", required=True, metavar="DATE", help="Last day sent (YYYY-MM-DD, UTC), included.")
@click.option("--with-contact", is_flag=True, help="Add a Patient for each patient who consented to be contacted.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@needs_database
def fhir_command(first: str, last: str, with_contact: bool, directory: Path) -> None:
    """Write FHIR R4 NDJSON files (one per resource type, as Bulk Data does) for the submissions of a date range."""
    days = _days(first, last)
    with db.new_session(current_app) as session:
        total = fhir.count_in_range(session, days.first, days.last)
        hidden = not sys.stdout.isatty()
        with click.progressbar(length=total, label="Exporting submissions", hidden=hidden) as bar:
            counts = fhir.export_ndjson(
                session,
                current_app.config,
                directory,
                days.first,
                days.last,
                with_contact=with_contact,
                actor=ACTOR,
                now=datetime.now(UTC),
                progress=bar.update,
            )
        session.commit()
    written = ", ".join(f"{count} {kind}" for kind, count in counts.by_type.items())
    left_out = (
        f" {counts.skipped} left out: their stored answers do not fit the answers document." if counts.skipped else ""
    )
    click.echo(f"Exported {counts.submissions} submission(s) to {directory}: {written}.{left_out}")
