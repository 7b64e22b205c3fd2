"""The read-only display of an answers document, worded from the same definitions as the forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Iterable
from typing import Mapping

from ... import vocabulary
from ...instruments import acr2016
from ...instruments.base import Instrument
from ...instruments.definitions import GAD7
from ...instruments.definitions import ISI
from ...instruments.definitions import PAIN_AVERAGE
from ...instruments.definitions import PHQ9
from ...instruments.definitions import SSS_SOMATIC
from ...instruments.definitions import SSS_SYMPTOMS
from . import forms

NONE = "None"
AREA_LABELS = {area.key: area.label for area in acr2016.PAIN_AREAS}


@dataclass(frozen=True)
class Row:
    """One question and the answer given."""

    question: str
    answer: str


@dataclass(frozen=True)
class Section:
    """The answers of one step, with the step key to edit them."""

    step: str
    title: str
    rows: tuple[Row, ...]


def _labels(table: Mapping[str, str], codes: Iterable[str]) -> str:
    """Return the labels of ``codes`` joined for reading, or "None"."""
    labels = [vocabulary.label(table, code) for code in codes]
    return "; ".join(labels) if labels else NONE


def _yes_no(value: bool) -> str:
    """Return "Yes" or "No"."""
    return "Yes" if value else "No"


def _instrument_rows(instrument: Instrument, answers: list[int]) -> tuple[Row, ...]:
    """Return one row per item with the label of the option chosen."""
    return tuple(
        Row(item.text, instrument.option_label(index, points))
        for index, (item, points) in enumerate(zip(instrument.items, answers, strict=True))
    )


def _about(document: Mapping[str, Any]) -> tuple[Row, ...]:
    """Rows of the "about you" step."""
    rows = [
        Row(forms.AboutForm.sex_at_birth.args[0], vocabulary.label(vocabulary.SEX_AT_BIRTH, document["sex_at_birth"]))
    ]
    if document["sex_at_birth"] != "male":
        rows.append(
            Row(forms.AboutForm.pregnancy.args[0], vocabulary.label(vocabulary.PREGNANCY, document["pregnancy"]))
        )
        rows.append(Row(forms.AboutForm.breastfeeding.args[0], _yes_no(document["breastfeeding"])))
    rows.append(Row(forms.AboutForm.diagnoses.args[0], _labels(vocabulary.DIAGNOSES, document["diagnoses"])))
    return tuple(rows)


def _pain(document: Mapping[str, Any]) -> tuple[Row, ...]:
    """Rows of the pain step."""
    return (
        Row(forms.PainForm.pain_areas.args[0], _labels(AREA_LABELS, document["pain_areas"])),
        Row(forms.PainForm.pain_duration_months.args[0], f"{document['pain_duration_months']} months"),
        *_instrument_rows(PAIN_AVERAGE, [document["pain_average"]]),
    )


def _symptoms(document: Mapping[str, Any]) -> tuple[Row, ...]:
    """Rows of the symptom severity step."""
    sss = document["sss"]
    return (
        *_instrument_rows(SSS_SYMPTOMS, [sss[item.key] for item in SSS_SYMPTOMS.items]),
        *_instrument_rows(SSS_SOMATIC, [int(sss[item.key]) for item in SSS_SOMATIC.items]),
    )


def trial_summary(trial: Mapping[str, Any]) -> str:
    """Return one medication trial as a sentence."""
    return (
        f"{trial['dose_mg_per_day']} mg a day for {trial['weeks']} weeks; "
        f"{trial['improvement_pct']}% better; "
        f"{'during' if trial['current_episode'] else 'before'} the current period of depression; "
        f"{'stopped early for side effects' if trial['stopped_early'] else 'not stopped for side effects'}"
    )


def _treatments(document: Mapping[str, Any]) -> tuple[Row, ...]:
    """Rows of the prior treatment step."""
    trials = [
        Row(vocabulary.label(vocabulary.MEDICATIONS, t["drug"]), trial_summary(t))
        for t in document["medication_trials"]
    ]
    if not trials:
        trials = [Row("Medicines tried before", NONE)]
    therapies = [
        Row(vocabulary.THERAPIES[code], vocabulary.label(vocabulary.THERAPY_STATUS, status))
        for code, status in document["therapies"].items()
    ]
    return (*trials, *therapies)


def _history(document: Mapping[str, Any]) -> tuple[Row, ...]:
    """Rows of the medical history step."""
    return (
        Row(
            forms.HistoryForm.medical_history.args[0], _labels(vocabulary.MEDICAL_HISTORY, document["medical_history"])
        ),
        Row(
            forms.HistoryForm.current_medications.args[0],
            _labels(vocabulary.CURRENT_MEDICATIONS, document["current_medications"]),
        ),
    )


def sections(document: Mapping[str, Any]) -> list[Section]:
    """Return every answer of ``document`` grouped by the step that asks it."""
    return [
        Section("age", "Your age", (Row(forms.AgeForm.age.args[0], str(document["age"])),)),
        Section("about", "About you", _about(document)),
        Section("pain", "Pain", _pain(document)),
        Section("symptoms", "Other symptoms", _symptoms(document)),
        Section("mood", PHQ9.title, _instrument_rows(PHQ9, document["phq9"])),
        Section("anxiety", GAD7.title, _instrument_rows(GAD7, document["gad7"])),
        Section("sleep", ISI.title, _instrument_rows(ISI, document["isi"])),
        Section("treatments", "Treatments you have tried", _treatments(document)),
        Section("history", "Medical history", _history(document)),
    ]
