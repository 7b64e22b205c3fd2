"""The wizard's steps, in order, and how each step's form becomes part of the answers document.

A step's answers are kept as the (name, value) pairs the patient last posted, so a page
can be shown again exactly as it was left, valid or not. When they are valid, the step's part
of the canonical answers document is kept beside them with the form version it was validated
under (``kept_answers``), so a request validates only the step it posts and the document is
built from the kept parts; a step without kept answers (a draft saved under another form
version, or before answers were kept) is validated again from its pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from typing import Callable
from typing import Iterable
from typing import Mapping

from werkzeug.datastructures import MultiDict
from wtforms import Form

from ...errors import ScreeningError
from ...instruments.definitions import GAD7
from ...instruments.definitions import ISI
from ...instruments.definitions import PHQ9
from ...instruments.definitions import SSS_SOMATIC
from ...instruments.definitions import SSS_SYMPTOMS
from ...instruments.base import Instrument
from . import forms
from .contact_form import ContactForm

#: Changes whenever a question, an option or the document built from them changes.
FORM_VERSION = "intake-2026.12-1"

#: Posted names that are not answers.
NOT_ANSWERS = frozenset({"csrf_token", "action"})

Pairs = list[list[str]]


@dataclass(frozen=True)
class Step:
    """One page of the wizard."""

    key: str
    title: str
    form: type[Form]
    to_answers: Callable[[Any], dict[str, Any]]


def _items(instrument: Instrument, form: Form) -> list[int]:
    """Return the points chosen for each item of ``instrument``."""
    return [int(form[item.key].data) for item in instrument.items]


def _about(form: forms.AboutForm) -> dict[str, Any]:
    """Answers of the "about you" step; pregnancy questions do not apply to males."""
    male = form.sex_at_birth.data == "male"
    return {
        "sex_at_birth": form.sex_at_birth.data,
        "pregnancy": "not_applicable" if male else form.pregnancy.data,
        "breastfeeding": False if male else form.breastfeeding.data == "yes",
        "diagnoses": list(form.diagnoses.data or []),
    }


def _pain(form: forms.PainForm) -> dict[str, Any]:
    """Answers of the pain step."""
    return {
        "pain_areas": list(form.pain_areas.data or []),
        "pain_duration_months": form.pain_duration_months.data,
        "pain_average": int(form.pain_average.data),
    }


def _symptoms(form: Form) -> dict[str, Any]:
    """Answers of the symptom severity step as the canonical ``sss`` object."""
    sss: dict[str, Any] = {item.key: int(form[item.key].data) for item in SSS_SYMPTOMS.items}
    sss.update({item.key: bool(form[item.key].data) for item in SSS_SOMATIC.items})
    return {"sss": sss}


def _number(value: Decimal) -> int | float:
    """Return a posted decimal as an int when whole, else as a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _trial(row: forms.MedicationTrialForm) -> dict[str, Any]:
    """Return one medicine row as a canonical medication trial."""
    drug = row.drug.data
    if drug == forms.OTHER_DRUG:
        drug = forms.normalized_drug_name(row.other_name.data or "")
    return {
        "drug": drug,
        "dose_mg_per_day": _number(row.dose_mg_per_day.data),
        "weeks": row.weeks.data,
        "improvement_pct": row.improvement_pct.data,
        "current_episode": row.current_episode.data == "yes",
        "stopped_early": row.stopped_early.data == "yes",
    }


def _treatments(form: forms.TreatmentsForm) -> dict[str, Any]:
    """Answers of the prior-treatment step."""
    return {
        "medication_trials": [_trial(row) for row in form.filled_rows()],
        "therapies": {code: form[code].data for code in ("graded_exercise", "cbt", "sleep_treatment")},
    }


def _history(form: forms.HistoryForm) -> dict[str, Any]:
    """Answers of the medical history step."""
    return {
        "medical_history": list(form.medical_history.data or []),
        "current_medications": list(form.current_medications.data or []),
    }


STEPS: tuple[Step, ...] = (
    Step("welcome", "Welcome", forms.WelcomeForm, lambda form: {}),
    Step("age", "Your age", forms.AgeForm, lambda form: {"age": form.age.data}),
    Step("about", "About you", forms.AboutForm, _about),
    Step("pain", "Pain", forms.PainForm, _pain),
    Step("symptoms", "Other symptoms", forms.SymptomsForm, _symptoms),
    Step("mood", "Mood (PHQ-9)", forms.Phq9Form, lambda form: {"phq9": _items(PHQ9, form)}),
    Step("anxiety", "Anxiety (GAD-7)", forms.Gad7Form, lambda form: {"gad7": _items(GAD7, form)}),
    Step("sleep", "Sleep (ISI)", forms.IsiForm, lambda form: {"isi": _items(ISI, form)}),
    Step("treatments", "Treatments you have tried", forms.TreatmentsForm, _treatments),
    Step("history", "Medical history", forms.HistoryForm, _history),
    # Not part of the answers document: the details are stored apart, encrypted (``contact_step``).
    Step("contact", "How the clinic may reach you", ContactForm, lambda form: {}),
)

BY_KEY = {step.key: step for step in STEPS}

#: The review page is the last numbered step.
TOTAL_STEPS = len(STEPS) + 1

#: Steps answered before any draft exists: nothing is stored until the age step passes.
BEFORE_DRAFT = ("welcome", "age")


class StepIncomplete(ScreeningError):
    """A step has no valid answers yet, so the document cannot be built."""

    http_status = 409
    title = "Some questions still need an answer"

    def __init__(self, step: Step) -> None:
        super().__init__(f"Please complete the step '{step.title}' first.")
        self.step = step


def number_of(key: str) -> int:
    """Return the 1-based position of a step, the review page counting as the last."""
    return TOTAL_STEPS if key == "review" else STEPS.index(BY_KEY[key]) + 1


def posted_pairs(formdata: MultiDict[str, str]) -> Pairs:
    """Return the posted answers as (name, value) pairs, leaving out tokens and buttons."""
    return [[name, value] for name, value in formdata.items(multi=True) if name not in NOT_ANSWERS]


def load_form(step: Step, pairs: Iterable[Iterable[str]] | None) -> Form:
    """Return the step's form filled from stored pairs, or empty when there are none."""
    if pairs is None:
        return step.form()
    return step.form(formdata=MultiDict([tuple(pair) for pair in pairs]))


def validated_answers(step: Step, pairs: Iterable[Iterable[str]] | None) -> dict[str, Any] | None:
    """Return the step's part of the answers document, or None when its answers are not valid."""
    if pairs is None:
        return None
    form = load_form(step, pairs)
    return step.to_answers(form) if form.validate() else None


@dataclass(frozen=True)
class SavedSteps:
    """What is kept of the steps answered so far: the pairs posted, and the answers of the steps found valid."""

    pairs: Mapping[str, Pairs]
    #: By step key, the part of the answers document, for the steps validated under this ``FORM_VERSION``.
    answers: Mapping[str, dict[str, Any]]


def kept_answers(stored: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Return the answers kept with a draft by step, none when they were validated under another form version."""
    if not isinstance(stored, Mapping) or stored.get("form_version") != FORM_VERSION:
        return {}
    kept = stored.get("steps")
    return dict(kept) if isinstance(kept, Mapping) else {}


def keeping(stored: Mapping[str, Any] | None, key: str, answers: dict[str, Any] | None) -> dict[str, Any]:
    """Return the kept answers to store with step ``key``'s replaced by ``answers`` (dropped when None)."""
    kept = kept_answers(stored)
    kept.pop(key, None)
    if answers is not None:
        kept[key] = answers
    return {"form_version": FORM_VERSION, "steps": kept}


def step_answers(step: Step, saved: SavedSteps) -> dict[str, Any] | None:
    """Return the step's part of the answers document, kept or validated from its pairs; None when not valid."""
    kept = saved.answers.get(step.key)
    return kept if kept is not None else validated_answers(step, saved.pairs.get(step.key))


def first_incomplete(saved: SavedSteps) -> Step | None:
    """Return the first step without valid answers, or None when all are done."""
    return next((step for step in STEPS if step_answers(step, saved) is None), None)


def build_document(saved: SavedSteps) -> dict[str, Any]:
    """Build the answers document from every step's answers; raise for the first incomplete step."""
    document: dict[str, Any] = {}
    for step in STEPS:
        answers = step_answers(step, saved)
        if answers is None:
            raise StepIncomplete(step)
        document.update(answers)
    return document
