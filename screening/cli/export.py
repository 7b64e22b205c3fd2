"""The ``export`` commands: ``export csv``, the quality-review CSV of a day range and its data dictionary.

Thin over ``screening.exports``: read the days, audit the export (range and row count), write the file.
A bad date, or a range that ends before it starts, is one line and exit 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from typing import TextIO

import click
from flask import current_app

from .. import db
from ..active_rules import active_ruleset
from ..dbcheck import needs_database
from ..exports import data_dictionary
from ..exports import quality_csv
from ..exports.days import DayRange
from .common import ACTOR
from .common import fail_on


@click.group("export")
def export_group() -> None:
    """Export stored submissions for people outside the app; every export is audited."""


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
    days = fail_on(lambda: DayRange.parse(first, last, names=("--from", "--to")))
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
