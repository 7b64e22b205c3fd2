"""An answers document as a FHIR QuestionnaireResponse, and the response read back into the same document.

The response follows ``layout``: a question that does not apply (pregnancy and breastfeeding for a male
sex at birth) and an empty list of codes are left out, as FHIR leaves out unanswered items; reading back
gives them their canonical values again.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from .. import vocabulary
from ..instruments.base import Instrument
from . import codes
from . import layout

Json = dict[str, Any]


def _coding(base: str, system: str, code: str, display: str) -> Json:
    return {"system": codes.code_system(base, system), "code": code, "display": display}


def _answered(link_id: str, answers: Iterable[Json]) -> list[Json]:
    """Return the item ``link_id`` with its answers, or nothing when there are none."""
    answers = list(answers)
    return [{"linkId": link_id, "answer": answers}] if answers else []


def _coded(base: str, link_id: str, table: Mapping[str, str], chosen: Iterable[str]) -> list[Json]:
    name = layout.vocabulary_name(link_id)
    return _answered(
        link_id, ({"valueCoding": _coding(base, name, code, vocabulary.label(table, code))} for code in chosen)
    )


def _points(document: Mapping[str, Any], instrument: Instrument, field: str) -> list[int]:
    """Return the points of each item of ``instrument`` as the document holds them."""
    value = document[field]
    if isinstance(value, Mapping):
        return [int(value[item.key]) for item in instrument.items]
    return list(value) if isinstance(value, list) else [value]


def _instrument(base: str, document: Mapping[str, Any], instrument: Instrument, field: str) -> Json:
    items = []
    for index, (item, points) in enumerate(zip(instrument.items, _points(document, instrument, field), strict=True)):
        coding = _coding(base, instrument.key, str(points), instrument.option_label(index, points))
        items += _answered(layout.item_link(instrument, item), [{"valueCoding": coding}])
    return {"linkId": instrument.key, "item": items}


def _value(kind: str, value: Any) -> Json:
    return {"valueBoolean" if kind == "boolean" else f"value{kind.capitalize()}": value}


def _trial(trial: Mapping[str, Any]) -> Json:
    items = [
        {"linkId": layout.child_link(layout.TRIALS, name), "answer": [_value(kind, trial[name])]}
        for name, kind in layout.TRIAL_FIELDS.items()
    ]
    return {"linkId": layout.TRIALS, "item": items}


def _therapies(base: str, therapies: Mapping[str, str]) -> Json:
    items = []
    for code, status in therapies.items():
        label = vocabulary.label(vocabulary.THERAPY_STATUS, status)
        items += _answered(
            layout.child_link(layout.THERAPIES, code),
            [{"valueCoding": _coding(base, layout.THERAPY_STATUS_SYSTEM, status, label)}],
        )
    return {"linkId": layout.THERAPIES, "item": items}


def _about(base: str, document: Mapping[str, Any]) -> list[Json]:
    items = [{"linkId": "age", "answer": [{"valueInteger": document["age"]}]}]
    items += _coded(base, "sex_at_birth", layout.SINGLE_CODED["sex_at_birth"], [document["sex_at_birth"]])
    if document["sex_at_birth"] != layout.NOT_APPLICABLE_WHEN[1]:
        items += _coded(base, "pregnancy", layout.SINGLE_CODED["pregnancy"], [document["pregnancy"]])
        items.append({"linkId": "breastfeeding", "answer": [{"valueBoolean": document["breastfeeding"]}]})
    items += _coded(base, "diagnoses", layout.MULTI_CODED["diagnoses"], document["diagnoses"])
    items += _coded(base, "pain_areas", layout.MULTI_CODED["pain_areas"], document["pain_areas"])
    items.append({"linkId": "pain_duration_months", "answer": [{"valueInteger": document["pain_duration_months"]}]})
    return items


def response_items(base: str, document: Mapping[str, Any]) -> list[Json]:
    """Return the items of the response to the intake Questionnaire that ``document`` answers."""
    items = _about(base, document)
    items += [_instrument(base, document, instrument, field) for instrument, field in layout.INSTRUMENTS]
    items += [_trial(trial) for trial in document[layout.TRIALS]]
    items.append(_therapies(base, document[layout.THERAPIES]))
    for link_id in ("medical_history", "current_medications"):
        items += _coded(base, link_id, layout.MULTI_CODED[link_id], document[link_id])
    return items


def questionnaire_response(
    base: str, document: Mapping[str, Any], *, resource_id: str, authored: str, form_version: str
) -> Json:
    """Return the completed QuestionnaireResponse of one submission (no subject: the patient is not named)."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id,
        "questionnaire": f"{codes.questionnaire_url(base)}|{form_version}",
        "status": "completed",
        "authored": authored,
        "item": response_items(base, document),
    }


# --- Reading a response back ------------------------------------------------------------------------


def _answer(item: Mapping[str, Any]) -> Any:
    """Return the single value of an item's first answer (a Coding's code, or the plain value)."""
    (value,) = (v for k, v in item["answer"][0].items() if k.startswith("value"))
    return value["code"] if isinstance(value, Mapping) else value


def _by_link(items: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    found: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        found.setdefault(item["linkId"], []).append(item)
    return found


def _codes_of(found: Mapping[str, list[Mapping[str, Any]]], link_id: str) -> list[str]:
    return [answer["valueCoding"]["code"] for item in found.get(link_id, []) for answer in item["answer"]]


def _number(value: Any) -> int | float:
    """Return a decimal answer as an int when whole, else as a float, as the answers document keeps numbers."""
    number = float(value)
    return int(number) if number.is_integer() else number


def _read_trial(group: Mapping[str, Any]) -> dict[str, Any]:
    found = {item["linkId"]: _answer(item) for item in group["item"]}
    trial = {name: found[layout.child_link(layout.TRIALS, name)] for name in layout.TRIAL_FIELDS}
    for name, kind in layout.TRIAL_FIELDS.items():
        if kind == "decimal":
            trial[name] = _number(trial[name])
    return trial


def _read_instruments(found: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, Any]:
    read: dict[str, Any] = {"sss": {}}
    for instrument, field in layout.INSTRUMENTS:
        answers = {item["linkId"]: int(_answer(item)) for item in found[instrument.key][0]["item"]}
        points = [answers[layout.item_link(instrument, item)] for item in instrument.items]
        if field == "sss":
            as_bool = instrument.key in layout.YES_NO_INSTRUMENTS
            read["sss"].update(
                {i.key: bool(p) if as_bool else p for i, p in zip(instrument.items, points, strict=True)}
            )
        else:
            read[field] = points[0] if field == "pain_average" else points
    return read


def answers_document(response: Mapping[str, Any]) -> dict[str, Any]:
    """Return the answers document a QuestionnaireResponse of the intake holds, keys in the canonical order."""
    found = _by_link(response.get("item", []))
    male = _answer(found["sex_at_birth"][0]) == layout.NOT_APPLICABLE_WHEN[1]
    read = _read_instruments(found)
    therapies = {item["linkId"]: _answer(item) for item in found[layout.THERAPIES][0]["item"]}
    return {
        "age": _answer(found["age"][0]),
        "sex_at_birth": _answer(found["sex_at_birth"][0]),
        "pregnancy": "not_applicable" if male else _answer(found["pregnancy"][0]),
        "breastfeeding": False if male else bool(_answer(found["breastfeeding"][0])),
        "diagnoses": _codes_of(found, "diagnoses"),
        "pain_areas": _codes_of(found, "pain_areas"),
        "pain_duration_months": _answer(found["pain_duration_months"][0]),
        "sss": read["sss"],
        "pain_average": read["pain_average"],
        "phq9": read["phq9"],
        "gad7": read["gad7"],
        "isi": read["isi"],
        layout.TRIALS: [_read_trial(group) for group in found.get(layout.TRIALS, [])],
        layout.THERAPIES: {name.partition(".")[2]: status for name, status in therapies.items()},
        "medical_history": _codes_of(found, "medical_history"),
        "current_medications": _codes_of(found, "current_medications"),
    }
