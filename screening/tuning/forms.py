"""The forms of the rule-tuning pages; the CSRF token of every POST is checked app-wide by Flask-WTF.

The forms read and render fields; the rules about titles, file names and notes live in ``drafts``,
which explains every refusal in one message.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from wtforms import DateField
from wtforms import Form
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import InputRequired
from wtforms.validators import Optional
from wtforms.validators import Regexp

from ..models import RuleSetVersion
from ..active_rules import store
from . import drafts
from .draft_pages import NEW_FILE

STARTED_FROM_MISSING = (
    "This form did not say which saved text it started from, so nothing was saved. Your text is still "
    "below: copy it, reload the file, and save again."
)


class StartDraftForm(Form):
    """Start a draft from the active version."""

    title = StringField(
        "Title of the draft",
        description=f"What does the change do, and why? At most {drafts.TITLE_MAX} characters.",
    )


class SaveFileForm(Form):
    """The editor: the whole text of one file and the digest of the text it was opened with."""

    text = TextAreaField("Text of the file")
    started_from = HiddenField(
        validators=[
            InputRequired(STARTED_FROM_MISSING),
            Regexp(rf"^(?:[0-9a-f]{{64}}|{NEW_FILE})$", message=STARTED_FROM_MISSING),
        ]
    )

    @property
    def base(self) -> str | None:
        """Return the digest the save names, None when it creates the file."""
        return None if self.started_from.data == NEW_FILE else self.started_from.data


class NewFileForm(Form):
    """Add a file to a draft."""

    name = StringField(
        "Name of the new file",
        description="Lower-case letters, digits, - and _, ending in .yaml; one folder allowed, as in tables/doses.yaml.",
    )


class SendBackForm(Form):
    """Return a submitted draft to its authors with the reason."""

    note = TextAreaField(
        "Why does the draft go back?",
        description=f"Say what to change; the authors read this. At most {drafts.NOTE_MAX} characters.",
    )


class DryRunForm(Form):
    """Which submissions to evaluate, and which stored version to compare with."""

    submitted_from = DateField("Submitted on or after (optional)", validators=[Optional()], format="%Y-%m-%d")
    submitted_to = DateField("Submitted on or before (optional)", validators=[Optional()], format="%Y-%m-%d")
    against = SelectField("Compare with", coerce=int)


def dry_run_form(session: orm.Session, formdata: Any = None) -> DryRunForm:
    """Return the form with the stored versions to compare with, the active one first and selected."""
    form = DryRunForm(formdata)
    current = store.active(session)
    shown = orm.load_only(RuleSetVersion.id, RuleSetVersion.version, RuleSetVersion.activated_at)
    versions = session.scalars(sa.select(RuleSetVersion).options(shown).order_by(RuleSetVersion.id.desc())).all()
    active_id = current.version.id if current else None
    ordered = sorted(versions, key=lambda version: version.id != active_id)
    form.against.choices = [
        (
            version.id,
            f"{version.version[:15]} (stored {version.activated_at:%Y-%m-%d %H:%M} UTC)"
            + (", the active version" if version.id == active_id else ""),
        )
        for version in ordered
    ]
    if formdata is None and active_id is not None:
        form.against.data = active_id
    return form
