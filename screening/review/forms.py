"""The forms of the physicians' pages that WTForms renders and reads; the CSRF token is checked app-wide by Flask-WTF.

The forms read and render fields; the rules about decisions, notes and contact results live in ``service``,
which explains every refusal in one message.
"""

from __future__ import annotations

from wtforms import BooleanField
from wtforms import Form
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import TextAreaField

from .service import CONTACT_RESULTS
from .service import NOTE_MAX_LENGTH
from .service import SAFETY_FOLLOWUP


class SafetyFollowupForm(Form):
    """Record that the safety follow-up is done: what came of the contact attempt, and what happened."""

    #: The decision this form records, posted as a hidden field.
    decision = SAFETY_FOLLOWUP
    contact_result = RadioField(
        "Result of the contact attempt",
        choices=[SelectChoice(code, label) for code, label in CONTACT_RESULTS.items()],
        validate_choice=False,
        id="followup-contact-result",
        render_kw={"required": True},
    )
    note = TextAreaField(
        "What happened (required)",
        description="Who you spoke to, what was agreed, what happens next. Other physicians read it in the history.",
        id="followup-note",
        render_kw={"rows": 4, "maxlength": NOTE_MAX_LENGTH, "required": True, "class": "input"},
    )
    note_for_patient = BooleanField("Show this note to the patient", id="followup-note-for-patient")

    @property
    def contact(self) -> str | None:
        """Return the result chosen, None when none was."""
        return self.contact_result.data or None
