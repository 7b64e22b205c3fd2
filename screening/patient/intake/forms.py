"""The form of each intake step. Instrument questions come from their definitions."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from wtforms import BooleanField
from wtforms import Form
from wtforms import FormField
from wtforms import SelectChoice
from wtforms import StringField
from wtforms.validators import InputRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from ... import vocabulary
from ...answers import DRUG_NAME_PATTERN
from ...answers import MAX_MEDICATION_TRIALS
from ...instruments import acr2016
from ...instruments.definitions import GAD7
from ...instruments.definitions import ISI
from ...instruments.definitions import PAIN_AVERAGE
from ...instruments.definitions import PHQ9
from ...instruments.definitions import SSS_SOMATIC
from ...instruments.definitions import SSS_SYMPTOMS
from .fields import CHOOSE_ONE
from .fields import CheckboxesField
from .fields import FiniteDecimalField
from .fields import OptionListField
from .fields import RowList
from .fields import WholeNumberField
from .fields import ChoiceField
from .fields import choices_from
from .fields import instrument_form
from .fields import item_field
from .fields import YES_NO

OTHER_DRUG = "other"
_DRUG_NAME = re.compile(DRUG_NAME_PATTERN)


class WelcomeForm(Form):
    """Consent to the intake after reading what it collects and why."""

    consent = BooleanField(
        "I have read what this form collects and why, and I agree to continue.",
        validators=[InputRequired("Please tick the box to agree before you start.")],
    )


class AgeForm(Form):
    """Age in whole years; under 18 stops the intake."""

    age = WholeNumberField(
        "How old are you?",
        description="Your age in whole years.",
        validators=[
            InputRequired("Enter your age in whole years, for example 42."),
            NumberRange(1, 120, "Enter an age between 1 and 120."),
        ],
    )


class AboutForm(Form):
    """Sex at birth, pregnancy and breastfeeding when relevant, and self-reported diagnoses."""

    sex_at_birth = ChoiceField(
        "What sex were you assigned at birth?",
        choices=choices_from(vocabulary.SEX_AT_BIRTH),
        validators=[InputRequired(CHOOSE_ONE)],
    )
    pregnancy = ChoiceField(
        "Are you pregnant, or could you be pregnant?",
        description="Skip this if you were assigned male at birth.",
        choices=choices_from(vocabulary.PREGNANCY),
    )
    breastfeeding = ChoiceField(
        "Are you breastfeeding?",
        description="Skip this if you were assigned male at birth.",
        choices=list(YES_NO),
    )
    diagnoses = CheckboxesField(
        "Has a doctor ever told you that you have any of these conditions?",
        description="Tick all that apply, or none.",
        choices=choices_from(vocabulary.DIAGNOSES),
    )

    def validate_pregnancy(self, field: ChoiceField) -> None:
        """Require an answer unless the question does not apply."""
        if self.sex_at_birth.data != "male" and not field.data:
            raise ValidationError("Choose an answer, or 'Does not apply to me'.")

    def validate_breastfeeding(self, field: ChoiceField) -> None:
        """Require an answer unless the question does not apply."""
        if self.sex_at_birth.data != "male" and not field.data:
            raise ValidationError(CHOOSE_ONE)


class PainForm(Form):
    """Where it hurt in the past week, for how long, and how much on average."""

    pain_areas = CheckboxesField(
        "In the past week, where have you had pain or tenderness?",
        description="Tick every area that hurt. Leave them all empty if none did.",
        choices=[SelectChoice(area.key, area.label) for area in acr2016.PAIN_AREAS],
    )
    pain_duration_months = WholeNumberField(
        "For how many months have these symptoms been generally present?",
        description="In whole months; 1 year is 12 months. Enter 0 if less than a month.",
        validators=[
            InputRequired("Enter a number of months, for example 18."),
            NumberRange(0, 1200, "Enter a number of months between 0 and 1200."),
        ],
    )
    pain_average = item_field(PAIN_AVERAGE, PAIN_AVERAGE.items[0])


SymptomsForm = instrument_form(SSS_SYMPTOMS, SSS_SOMATIC)
Phq9Form = instrument_form(PHQ9)
Gad7Form = instrument_form(GAD7)
IsiForm = instrument_form(ISI)


class MedicationTrialForm(Form):
    """One medicine taken before: which, how much, how long, and how well it worked."""

    drug = OptionListField(
        "Medicine",
        choices=[
            SelectChoice("", "Choose a medicine"),
            *choices_from(vocabulary.MEDICATIONS),
            SelectChoice(OTHER_DRUG, "Another medicine (type its name below)"),
        ],
        validate_choice=True,
        default="",  # a row whose medicine was not posted at all is a blank row, not a bad choice
        render_kw={"data-other": OTHER_DRUG},  # the choice that shows the name field, for intake.js
    )
    other_name = StringField("Name of the other medicine", description="The generic name, e.g. paroxetine.")
    dose_mg_per_day = FiniteDecimalField(
        "Highest daily dose, in mg",
        places=None,
        validators=[Optional(), NumberRange(Decimal("0.1"), 10000, "Enter a daily dose in mg between 0.1 and 10000.")],
    )
    weeks = WholeNumberField(
        "Weeks at that dose",
        validators=[Optional(), NumberRange(0, 1000, "Enter a number of weeks between 0 and 1000.")],
    )
    improvement_pct = WholeNumberField(
        "How much better did you feel, in percent?",
        description="0 means no better, 100 means completely well.",
        validators=[Optional(), NumberRange(0, 100, "Enter a percentage between 0 and 100.")],
    )
    current_episode = ChoiceField(
        "Did you take it during your current period of depression?",
        description="Answer no if you took it before this period of depression began.",
        choices=list(YES_NO),
    )
    stopped_early = ChoiceField("Did you stop it early because of side effects?", choices=list(YES_NO))

    #: Fields a row must have once any of its fields is filled in, with the message when missing.
    REQUIRED = {
        "drug": "Choose the medicine.",
        "dose_mg_per_day": "Enter the highest daily dose in mg.",
        "weeks": "Enter how many weeks you took that dose.",
        "improvement_pct": "Enter how much better you felt, from 0 to 100 percent.",
        "current_episode": CHOOSE_ONE,
        "stopped_early": CHOOSE_ONE,
    }

    def is_blank(self) -> bool:
        """Return True when nothing in the row was filled in."""
        return all(field.data in (None, "", []) for field in self)

    def validate(self, extra_validators: Any = None) -> bool:
        """Check the row's fields; a blank row is valid and ignored."""
        valid = super().validate(extra_validators)
        if self.is_blank():
            return valid
        for name, message in self.REQUIRED.items():
            field = self[name]
            if field.data in (None, "") and not field.errors:
                field.errors.append(message)
                valid = False
        return self._validate_other_name() and valid

    def _validate_other_name(self) -> bool:
        """Require a plausible medicine name when "another medicine" was chosen."""
        if self.drug.data != OTHER_DRUG or self.typed_name():
            return True
        if normalized_drug_name(self.other_name.data or ""):
            self.other_name.errors.append("Type the medicine's name using letters, numbers, spaces or hyphens.")
        else:
            self.other_name.errors.append("Enter the name of the medicine.")
        return False

    def typed_name(self) -> str:
        """Return the typed medicine name normalized, or "" when it is missing or not a plausible name."""
        name = normalized_drug_name(self.other_name.data or "")
        return name if len(name) <= 60 and _DRUG_NAME.match(name) else ""

    def row_title(self, number: int) -> str:
        """Return "Medicine 2 (Escitalopram)", or "Medicine 2" while the row names no known medicine."""
        if self.drug.data == OTHER_DRUG:
            name = self.typed_name()
        else:
            name = vocabulary.MEDICATIONS.get(self.drug.data or "", "").split(" (", 1)[0]
        return f"Medicine {number} ({name})" if name else f"Medicine {number}"


def normalized_drug_name(name: str) -> str:
    """Return a typed medicine name lower-cased with single spaces."""
    return " ".join(name.lower().split())


def _therapy_field(code: str) -> ChoiceField:
    """Return the question "have you tried this first-line treatment?"."""
    return ChoiceField(
        vocabulary.THERAPIES[code],
        choices=choices_from(vocabulary.THERAPY_STATUS),
        validators=[InputRequired(CHOOSE_ONE)],
    )


class TreatmentsForm(Form):
    """Medicines taken before, and the first-line treatments tried."""

    medications = RowList(FormField(MedicationTrialForm), min_entries=1, max_entries=MAX_MEDICATION_TRIALS)
    graded_exercise = _therapy_field("graded_exercise")
    cbt = _therapy_field("cbt")
    sleep_treatment = _therapy_field("sleep_treatment")

    def filled_rows(self) -> list[MedicationTrialForm]:
        """Return the medicine rows that are not blank."""
        return [entry.form for entry in self.medications if not entry.form.is_blank()]


NONE_OF_THESE = "None of these apply to me"


class HistoryForm(Form):
    """Medical history and current medicines, with an explicit "none" for each."""

    medical_history = CheckboxesField(
        "Have you ever had, or do you have now, any of the following?",
        description="Tick all that apply.",
        choices=choices_from(vocabulary.MEDICAL_HISTORY),
    )
    medical_history_none = BooleanField(NONE_OF_THESE)
    current_medications = CheckboxesField(
        "Are you taking any of these medicines now?",
        description="Tick all that apply.",
        choices=choices_from(vocabulary.CURRENT_MEDICATIONS),
    )
    current_medications_none = BooleanField("I am not taking any of these")

    def validate_medical_history(self, field: CheckboxesField) -> None:
        """Require either some conditions or the explicit "none", not both."""
        _exactly_one_of(field, self.medical_history_none)

    def validate_current_medications(self, field: CheckboxesField) -> None:
        """Require either some medicines or the explicit "none", not both."""
        _exactly_one_of(field, self.current_medications_none)


def _exactly_one_of(choices: CheckboxesField, none: BooleanField) -> None:
    """Raise unless exactly one of "some choices" and "none of these" was given."""
    if choices.data and none.data:
        raise ValidationError(f"You ticked some answers and also '{none.label.text}': choose one or the other.")
    if not choices.data and not none.data:
        raise ValidationError(f"Tick every answer that applies, or '{none.label.text}'.")
