"""The intake as a FHIR Questionnaire, derived from the instrument definitions and the intake's own questions.

Instrument items keep their published wording and answer options; each option is a Coding of the
instrument's code system whose code is its points, with the points again as the ``ordinalValue``
extension. The other questions take their wording from the intake's forms, as the read-only display does,
so a question is worded in one place. Pregnancy and breastfeeding are asked only when the sex at birth is
not male (``enableWhen``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..instruments.base import Instrument
from ..patient.intake import forms
from ..patient.intake.steps import FORM_VERSION
from . import codes
from . import layout

Json = dict[str, Any]


def _text(form: type, name: str) -> str:
    """Return the label of a field of an intake form (its first argument)."""
    return str(getattr(form, name).args[0])


def _choice(base: str, system: str, code: str, display: str, points: int | None = None) -> Json:
    coding: Json = {"system": codes.code_system(base, system), "code": code, "display": display}
    if points is not None:
        coding["extension"] = [{"url": codes.ORDINAL_VALUE, "valueDecimal": points}]
    return {"valueCoding": coding}


def _coded(
    base: str, link_id: str, text: str, table: Mapping[str, str], *, repeats: bool, system: str | None = None
) -> Json:
    name = system or layout.vocabulary_name(link_id)
    return {
        "linkId": link_id,
        "text": text,
        "type": "choice",
        "required": not repeats,
        "repeats": repeats,
        "answerOption": [_choice(base, name, code, label) for code, label in table.items()],
    }


def _loinc_code(code: str | None) -> Json:
    """Return an item's ``code`` element when LOINC has a confirmed code for it; FHIR has no empty arrays."""
    coding = codes.loinc(code)
    return {"code": coding} if coding else {}


def _instrument_item(base: str, instrument: Instrument, index: int) -> Json:
    item = instrument.items[index]
    options = instrument.options_for(item)
    return {
        "linkId": layout.item_link(instrument, item),
        **_loinc_code(codes.ITEMS.get(item.key)),
        "text": item.text,
        "type": "choice",
        "required": True,
        "answerOption": [_choice(base, instrument.key, str(o.points), o.label, o.points) for o in options],
    }


def _instrument(base: str, instrument: Instrument) -> Json:
    """Return the group of one instrument: its stem and time frame, then its items."""
    return {
        "linkId": instrument.key,
        **_loinc_code(codes.PANELS.get(instrument.key)),
        "text": f"{instrument.title}. {instrument.stem} (Time frame: {instrument.time_frame}.)",
        "type": "group",
        "required": True,
        "item": [_instrument_item(base, instrument, index) for index in range(len(instrument.items))],
    }


def _only_if_not_male(item: Json) -> Json:
    question, value = layout.NOT_APPLICABLE_WHEN
    item["enableWhen"] = [{"question": question, "operator": "!=", "answerCoding": {"code": value}}]
    return item


def _about(base: str) -> list[Json]:
    single, multi = layout.SINGLE_CODED, layout.MULTI_CODED
    return [
        {"linkId": "age", "text": _text(forms.AgeForm, "age"), "type": "integer", "required": True},
        _coded(base, "sex_at_birth", _text(forms.AboutForm, "sex_at_birth"), single["sex_at_birth"], repeats=False),
        _only_if_not_male(
            _coded(base, "pregnancy", _text(forms.AboutForm, "pregnancy"), single["pregnancy"], repeats=False)
        ),
        _only_if_not_male(
            {"linkId": "breastfeeding", "text": _text(forms.AboutForm, "breastfeeding"), "type": "boolean"}
        ),
        _coded(base, "diagnoses", _text(forms.AboutForm, "diagnoses"), multi["diagnoses"], repeats=True),
        _coded(base, "pain_areas", _text(forms.PainForm, "pain_areas"), multi["pain_areas"], repeats=True),
        {
            "linkId": "pain_duration_months",
            "text": _text(forms.PainForm, "pain_duration_months"),
            "type": "integer",
            "required": True,
        },
    ]


def _trials() -> Json:
    fields = [
        {"linkId": layout.child_link(layout.TRIALS, name), "text": _text(forms.MedicationTrialForm, name), "type": kind}
        for name, kind in layout.TRIAL_FIELDS.items()
    ]
    return {"linkId": layout.TRIALS, "text": "Medicines tried before", "type": "group", "repeats": True, "item": fields}


def _therapies(base: str) -> Json:
    items = [
        _coded(
            base,
            layout.child_link(layout.THERAPIES, code),
            _text(forms.TreatmentsForm, code),
            layout.THERAPY_STATUS,
            repeats=False,
            system=layout.THERAPY_STATUS_SYSTEM,
        )
        for code in layout.THERAPY_CODES
    ]
    return {"linkId": layout.THERAPIES, "text": "First-line treatments", "type": "group", "item": items}


def _history(base: str) -> list[Json]:
    multi = layout.MULTI_CODED
    return [
        _coded(base, name, _text(forms.HistoryForm, name), multi[name], repeats=True)
        for name in ("medical_history", "current_medications")
    ]


def questionnaire(base: str) -> Json:
    """Return the intake Questionnaire of the current form version under the canonical ``base``."""
    return {
        "resourceType": "Questionnaire",
        "id": codes.QUESTIONNAIRE_ID,
        "url": codes.questionnaire_url(base),
        "version": FORM_VERSION,
        "name": "EligibilityScreeningIntake",
        "title": "Eligibility screening intake",
        "status": "active",
        "subjectType": ["Patient"],
        "item": [
            *_about(base),
            *(_instrument(base, instrument) for instrument, _field in layout.INSTRUMENTS),
            _trials(),
            _therapies(base),
            *_history(base),
        ],
    }
