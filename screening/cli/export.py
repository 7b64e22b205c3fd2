"""The ``export`` commands: the clinic's data in standard formats, each export audited."""

from __future__ import annotations

import re
import sys
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path

import click
from flask import current_app

from .. import db
from ..dbcheck import needs_database
from ..fhir import service as fhir
from .common import ACTOR

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@click.group("export")
def export_group() -> None:
    """Export submissions for the clinic's other systems."""


def _day(option: str, text: str) -> date:
    """Read a YYYY-MM-DD day, or stop with one line naming the option."""
    try:
        if not _DAY.match(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise click.ClickException(f"{option}: {text!r} is not a date; use YYYY-MM-DD") from None


@export_group.command("fhir")
@click.option("--from", "first", required=True, metavar="DATE", help="First day sent (UTC), YYYY-MM-DD.")
@click.option("--to", "last", required=True, metavar="DATE", help="Last day sent (UTC), YYYY-MM-DD, inclusive.")
@click.option("--with-contact", is_flag=True, help="Add a Patient for each patient who consented to be contacted.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@needs_database
def fhir_command(first: str, last: str, with_contact: bool, directory: Path) -> None:
    """Write FHIR R4 NDJSON files (one per resource type, as Bulk Data does) for the submissions of a date range."""
    start, end = _day("--from", first), _day("--to", last)
    if start > end:
        raise click.ClickException(f"--from {first} is after --to {last}")
    with db.new_session(current_app) as session:
        total = fhir.count_in_range(session, start, end)
        hidden = not sys.stdout.isatty()
        with click.progressbar(length=total, label="Exporting submissions", hidden=hidden) as bar:
            counts = fhir.export_ndjson(
                session,
                current_app.config,
                directory,
                start,
                end,
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
