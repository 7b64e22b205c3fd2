"""The contact step's form: how the clinic may reach the patient, or a plain "do not contact me".

The consent's wording lives here and only here, with its version: the version is stored with the details.
"""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField
from wtforms import Form
from wtforms import SelectChoice
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import ValidationError

from ...contacts.details import METHOD_LABELS
from ...contacts.details import STATES
from ...contacts.details import TIME_LABELS
from ...contacts.details import ContactDetails
from ...contacts.details import ContactInvalid
from ...contacts.details import normalized_email
from ...contacts.details import normalized_phone
from ...contacts.details import parse_contact
from .fields import CHOOSE_ONE
from .fields import ChoiceField
from .fields import OptionListField

#: Changes whenever CONTACT_CONSENT_WORDING changes; stored with every patient's contact details.
CONTACT_CONSENT_VERSION = "contact-2026.12-1"
CONTACT_CONSENT_WORDING = (
    "I agree that the clinic may contact me about this request, by the e-mail address or phone number I give "
    "here, and keep these details for as long as my request is open and a short time after."
)
CONTACT = "contact"
DECLINE = "decline"


class ContactForm(Form):
    """Contact details with an explicit consent, or the choice not to be contacted."""

    contact_choice = ChoiceField(
        "May the clinic contact you about this request?",
        choices=[
            SelectChoice(CONTACT, "Yes, the clinic may contact me"),
            SelectChoice(DECLINE, "No, I do not want to be contacted"),
        ],
        validators=[InputRequired(CHOOSE_ONE)],
    )
    preferred_name = StringField("What should we call you?", description="Optional: a first name or nickname.")
    email = StringField("E-mail address", description="For example, name@example.com.")
    phone = StringField("Phone number", description="A US number, for example (212) 555-0187.")
    preferred_method = ChoiceField(
        "How would you prefer to be contacted?",
        choices=[SelectChoice(code, label) for code, label in METHOD_LABELS.items()],
    )
    preferred_time = ChoiceField(
        "When is a good time?",
        choices=[SelectChoice(code, label) for code, label in TIME_LABELS.items()],
    )
    state = OptionListField(
        "Which US state do you live in?",
        description="The clinic can only see patients in the states it serves.",
        choices=[SelectChoice("", "Choose a state"), *(SelectChoice(code, code) for code in STATES)],
        validate_choice=False,  # parse_contact checks the code, with a plain message
    )
    consent = BooleanField(CONTACT_CONSENT_WORDING)

    def declined(self) -> bool:
        """Return True when the patient chose not to be contacted."""
        return self.contact_choice.data == DECLINE

    def validate_email(self, field: StringField) -> None:
        """Check the address's syntax when one is given."""
        _check(field, normalized_email)

    def validate_phone(self, field: StringField) -> None:
        """Check that the number is a valid US number when one is given."""
        _check(field, normalized_phone)

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate the fields; unless declined, also that the details reach the patient and consent is given."""
        if self.declined():
            return self.contact_choice.validate(self)
        if not super().validate(extra_validators) or self.contact_choice.data != CONTACT:
            return False
        try:
            self.details()
        except ContactInvalid as problem:
            self[problem.field].errors = [*self[problem.field].errors, problem.message]
            return False
        return True

    def details(self) -> ContactDetails | None:
        """Return the checked details, None when declined; raise ContactInvalid naming a bad field."""
        if self.declined():
            return None
        return parse_contact(
            preferred_name=self.preferred_name.data,
            email=self.email.data,
            phone=self.phone.data,
            preferred_method=self.preferred_method.data or "",
            preferred_time=self.preferred_time.data or "",
            state=self.state.data,
            consent=bool(self.consent.data),
            consent_version=CONTACT_CONSENT_VERSION,
        )


def _check(field: StringField, normalize: Any) -> None:
    """Raise ValidationError with the message of ``normalize`` for a given value it refuses."""
    if field.data and field.data.strip():
        try:
            normalize(field.data)
        except ContactInvalid as problem:
            raise ValidationError(problem.message) from None
