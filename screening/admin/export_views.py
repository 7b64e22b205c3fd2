"""The exports page: the quality-review CSV of a day range, and its data dictionary. Routes of the admin blueprint.

Both downloads are audited before they start (``screening.exports``). The CSV is asked for with a POST carrying the
form's CSRF token, so no other site can start an export; a day that cannot be read re-shows the form with the
field named (422), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import render_template
from flask import request
from flask import stream_with_context
from werkzeug.wrappers import Response
from wtforms import Form
from wtforms import StringField

from ..active_rules import active_ruleset
from ..auth import clock
from ..auth.accounts import current_user
from ..db import get_session
from ..exports import data_dictionary
from ..exports import quality_csv
from ..exports.days import DayRange
from ..exports.days import DayRangeInvalid
from .views import bp


class QualityExportForm(Form):
    """The days of the quality export; the CSRF token is checked app-wide by Flask-WTF."""

    since = StringField("From (UTC)", name="from", description="First day submitted, as YYYY-MM-DD")
    until = StringField("To (UTC)", name="to", description="Last day submitted, included, as YYYY-MM-DD")

    def day_range(self) -> DayRange | None:
        """Return the days asked for; None, with the message beside its field, when they cannot be read."""
        try:
            return DayRange.parse(self.since.data or "", self.until.data or "")
        except DayRangeInvalid as error:
            field = self.since if error.field == "from" else self.until
            field.errors = [error.reason]
            return None


def _page(form: QualityExportForm, status: int = 200) -> tuple[str, int]:
    """Render the exports page."""
    return render_template("admin/exports.html", form=form, columns=len(quality_csv.COLUMNS)), status


def _attachment(pieces: Iterator[str], name: str) -> Response:
    """Return a CSV download of ``pieces``, streamed."""
    response = Response(pieces, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/exports")
def exports() -> tuple[str, int]:
    """Show the form of the quality export and the link to its data dictionary."""
    return _page(QualityExportForm())


@bp.post("/exports/quality.csv")
def export_quality() -> Response | tuple[str, int]:
    """Download the quality CSV of the days asked for; audited (range and row count) before it starts."""
    form = QualityExportForm(request.form)
    days = form.day_range()
    if days is None:
        return _page(form, 422)
    session = get_session()
    export = quality_csv.start_export(
        session, days, actor=current_user.actor, at=clock.now(), remote_addr=request.remote_addr
    )
    session.commit()

    @stream_with_context
    def generate() -> Iterator[str]:
        """Write the rows as the query streams them; the request's session closes when the last is sent."""
        yield from quality_csv.csv_lines(get_session(), export)

    return _attachment(generate(), quality_csv.file_name(days))


@bp.get("/exports/dictionary.csv")
def export_dictionary() -> Response:
    """Download the data dictionary of the quality CSV; audited like every export."""
    session = get_session()
    data_dictionary.record_download(session, actor=current_user.actor, at=clock.now(), remote_addr=request.remote_addr)
    session.commit()
    outcomes = data_dictionary.outcome_titles(active_ruleset())
    return _attachment(data_dictionary.csv_lines(outcomes), data_dictionary.FILE_NAME)
