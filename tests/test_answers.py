"""The canonical answers document: every valid document passes, every single defect is named."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from screening import vocabulary
from screening.answers import AnswersDocument, example_document, parse_answers
from screening.errors import AnswersError
from screening.instruments.acr2016 import PAIN_AREA_KEYS

Path = tuple[str | int, ...]
Doc = dict[str, Any]

MODEST = settings(max_examples=200, deadline=None)
# Written apart from the validator's own pattern so the test is an independent oracle.
DRUG_RE = r"[a-z0-9](?:[a-z0-9 -]{0,58}[a-z0-9])?"

CODE_LISTS: dict[str, tuple[str, ...]] = {
    "diagnoses": tuple(vocabulary.DIAGNOSES),
    "pain_areas": PAIN_AREA_KEYS,
    "medical_history": tuple(vocabulary.MEDICAL_HISTORY),
    "current_medications": tuple(vocabulary.CURRENT_MEDICATIONS),
}
SCORE_LISTS = {"phq9": (9, 3), "gad7": (7, 3), "isi": (7, 4)}
# Leaf kinds: ("int", low, high), ("num", low, high, low_inclusive), ("bool",), ("code", codes), ("drug",).
SCALARS: dict[Path, tuple[Any, ...]] = {
    ("age",): ("int", 0, 130),
    ("sex_at_birth",): ("code", tuple(vocabulary.SEX_AT_BIRTH)),
    ("pregnancy",): ("code", tuple(vocabulary.PREGNANCY)),
    ("breastfeeding",): ("bool",),
    ("pain_duration_months",): ("int", 0, 1200),
    ("sss", "fatigue"): ("int", 0, 3),
    ("sss", "unrefreshed"): ("int", 0, 3),
    ("sss", "cognitive"): ("int", 0, 3),
    ("sss", "headaches"): ("bool",),
    ("sss", "lower_abdominal"): ("bool",),
    ("sss", "depression"): ("bool",),
    ("pain_average",): ("int", 0, 10),
    **{("therapies", name): ("code", tuple(vocabulary.THERAPY_STATUS)) for name in vocabulary.THERAPIES},
}
TRIAL_FIELDS: dict[str, tuple[Any, ...]] = {
    "drug": ("drug",),
    "dose_mg_per_day": ("num", 0, 10000, False),
    "weeks": ("num", 0, 1000, True),
    "improvement_pct": ("int", 0, 100),
    "current_episode": ("bool",),
    "stopped_early": ("bool",),
}


def dotted(path: Path) -> str:
    """Return the readable form of a path, as AnswersError.field spells it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def subset(codes: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Draw distinct codes in any order, from none to all of them."""
    return st.tuples(st.permutations(codes), st.integers(0, len(codes))).map(lambda t: list(t[0][: t[1]]))


def number(low: float, high: float, low_inclusive: bool) -> st.SearchStrategy[int | float]:
    """Draw an int or a finite float in the range."""
    ints = st.integers(int(low) if low_inclusive else int(low) + 1, int(high))
    floats = st.floats(low, high, exclude_min=not low_inclusive, allow_nan=False, allow_infinity=False)
    return st.one_of(ints, floats)


trials = st.fixed_dictionaries(
    {
        "drug": st.one_of(st.sampled_from(tuple(vocabulary.MEDICATIONS)), st.from_regex(DRUG_RE, fullmatch=True)),
        "dose_mg_per_day": number(0, 10000, False),
        "weeks": number(0, 1000, True),
        "improvement_pct": st.integers(0, 100),
        "current_episode": st.booleans(),
        "stopped_early": st.booleans(),
    }
)


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    """Draw a valid answers document from anywhere in the space."""
    sex = draw(st.sampled_from(tuple(vocabulary.SEX_AT_BIRTH)))
    male = sex == "male"
    status = st.sampled_from(tuple(vocabulary.THERAPY_STATUS))
    return {
        "age": draw(st.integers(0, 130)),
        "sex_at_birth": sex,
        "pregnancy": "not_applicable" if male else draw(st.sampled_from(tuple(vocabulary.PREGNANCY))),
        "breastfeeding": False if male else draw(st.booleans()),
        "diagnoses": draw(subset(CODE_LISTS["diagnoses"])),
        "pain_areas": draw(subset(PAIN_AREA_KEYS)),
        "pain_duration_months": draw(st.integers(0, 1200)),
        "sss": {
            **{key: draw(st.integers(0, 3)) for key in ("fatigue", "unrefreshed", "cognitive")},
            **{key: draw(st.booleans()) for key in ("headaches", "lower_abdominal", "depression")},
        },
        "pain_average": draw(st.integers(0, 10)),
        **{
            name: draw(st.lists(st.integers(0, high), min_size=n, max_size=n))
            for name, (n, high) in SCORE_LISTS.items()
        },
        "medication_trials": draw(st.lists(trials, max_size=30)),
        "therapies": {name: draw(status) for name in vocabulary.THERAPIES},
        "medical_history": draw(subset(CODE_LISTS["medical_history"])),
        "current_medications": draw(subset(CODE_LISTS["current_medications"])),
    }


def leaves(doc: Doc) -> dict[Path, tuple[Any, ...]]:
    """Return every scalar path of a document with its kind."""
    found = dict(SCALARS)
    for name, codes in CODE_LISTS.items():
        found.update({(name, i): ("code", codes) for i in range(len(doc[name]))})
    for name, (_, high) in SCORE_LISTS.items():
        found.update({(name, i): ("int", 0, high) for i in range(len(doc[name]))})
    for i in range(len(doc["medication_trials"])):
        found.update({("medication_trials", i, key): kind for key, kind in TRIAL_FIELDS.items()})
    return found


def bad_value(kind: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Draw a value of the wrong type or out of range for a leaf of this kind."""
    junk = st.one_of(st.none(), st.just([]), st.just({}))
    if kind[0] == "int":
        low, high = kind[1], kind[2]
        return st.one_of(
            junk,
            st.integers(max_value=low - 1),
            st.integers(min_value=high + 1),
            st.booleans(),
            st.integers(low, high).map(str),
            st.integers(low, high).map(float),
            st.floats(low, high),
        )
    if kind[0] == "num":
        low, high, inclusive = kind[1:]
        below = st.floats(max_value=low).filter(lambda x: x < low or not inclusive)
        return st.one_of(
            junk,
            below,
            st.floats(min_value=high).filter(lambda x: x > high),
            st.just(math.nan),
            st.booleans(),
            st.integers(low, high).map(str),
            st.integers(min_value=high + 1),
        )
    if kind[0] == "bool":
        return st.one_of(junk, st.integers(), st.sampled_from(["true", "false", "yes"]), st.floats())
    if kind[0] == "code":
        return st.one_of(junk, st.integers(), st.booleans(), st.text().filter(lambda s: s not in kind[1]))
    return st.one_of(
        junk,
        st.integers(),
        st.text().filter(lambda s: re.fullmatch(DRUG_RE, s) is None),
        st.from_regex(r"[A-Z][a-z]{0,10}", fullmatch=True),
        st.just("a" * 61),
        st.just(" sertraline"),
    )


def node(doc: Any, path: Path) -> Any:
    """Return the value at ``path``."""
    for part in path:
        doc = doc[part]
    return doc


def at(doc: Any, path: Path) -> Any:
    """Return the container holding the last step of ``path``."""
    return node(doc, path[:-1])


@st.composite
def broken(draw: st.DrawFn) -> tuple[Doc, str]:
    """Draw a valid document with exactly one defect, and the path that names it."""
    doc = copy.deepcopy(draw(documents()))
    kind = draw(st.sampled_from(["leaf", "trial", "duplicate", "missing", "extra", "length", "container", "male"]))
    event(kind)
    if kind == "trial" and not doc["medication_trials"]:
        doc["medication_trials"].append(draw(trials))
    if kind in ("leaf", "trial"):
        found = leaves(doc)
        paths = [p for p in found if p[0] == "medication_trials"] if kind == "trial" else list(found)
        path = draw(st.sampled_from(sorted(paths, key=repr)))
        at(doc, path)[path[-1]] = draw(bad_value(found[path]))
        return doc, dotted(path)
    if kind == "duplicate":
        name = draw(st.sampled_from([n for n in CODE_LISTS if doc[n]] or ["pain_areas"]))
        if not doc[name]:
            doc[name].append(PAIN_AREA_KEYS[0])
        doc[name].insert(draw(st.integers(0, len(doc[name]))), draw(st.sampled_from(doc[name])))
        return doc, name
    if kind in ("missing", "extra"):
        parents: list[Path] = [(), ("sss",), ("therapies",)]
        parents += [("medication_trials", i) for i in range(len(doc["medication_trials"]))]
        parent = draw(st.sampled_from(parents))
        holder = node(doc, parent)
        if kind == "missing":
            key = draw(st.sampled_from(sorted(holder)))
            del holder[key]
        else:
            key = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k not in holder))
            holder[key] = draw(st.one_of(st.none(), st.integers(), st.text()))
        return doc, dotted(parent + (key,))
    if kind == "length":
        name = draw(st.sampled_from([*SCORE_LISTS, "medication_trials"]))
        if name == "medication_trials":
            doc[name] = doc[name] + [draw(trials)] * (31 - len(doc[name]))
        elif draw(st.booleans()):
            del doc[name][draw(st.integers(0, len(doc[name]) - 1))]
        else:
            doc[name] += [0] * draw(st.integers(1, 3))
        return doc, name
    if kind == "container":
        name = draw(st.sampled_from(["sss", "therapies", "phq9", "medication_trials", *CODE_LISTS]))
        wrong = (
            st.one_of(st.none(), st.text(), st.integers())
            if name in ("sss", "therapies")
            else st.one_of(st.none(), st.text(), st.just({}), st.just(tuple(doc[name])))
        )
        doc[name] = draw(wrong)
        return doc, name
    doc["sex_at_birth"] = "male"
    if draw(st.booleans()):
        doc["pregnancy"] = draw(st.sampled_from(["no", "yes", "possible"]))
        return doc, "pregnancy"
    doc["pregnancy"], doc["breastfeeding"] = "not_applicable", True
    return doc, "breastfeeding"


@MODEST
@given(documents())
def test_every_valid_document_is_accepted_and_round_trips(doc: Doc) -> None:
    canonical = parse_answers(doc).to_document()
    assert canonical == doc
    assert list(canonical) == list(doc)
    assert json.loads(json.dumps(canonical, allow_nan=False)) == doc
    assert parse_answers(canonical).to_document() == canonical


@MODEST
@given(broken())
def test_one_defect_is_rejected_naming_its_field(case: tuple[Doc, str]) -> None:
    doc, field = case
    with pytest.raises(AnswersError) as raised:
        parse_answers(doc)
    assert raised.value.field == field
    assert raised.value.reason


def test_example_document_is_valid_and_canonical() -> None:
    doc = example_document()
    answers = parse_answers(doc)
    assert isinstance(answers, AnswersDocument)
    assert answers.to_document() == doc
    assert example_document() is not example_document()


def test_to_document_returns_plain_lists_and_dicts() -> None:
    canonical = parse_answers(example_document()).to_document()
    assert all(type(value) in (list, dict, int, float, str, bool) for value in canonical.values())
    assert type(canonical["medication_trials"][0]) is dict


def mutated(changes: Mapping[Path, Any]) -> Doc:
    """Return the example document with values replaced (``...`` deletes the key)."""
    doc = example_document()
    for path, value in changes.items():
        holder = at(doc, path)
        if value is ...:
            del holder[path[-1]]
        else:
            holder[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({("phq9", 8): 4}, "phq9[8]", "must be an integer from 0 to 3"),
        ({("sss", "fatigue"): True}, "sss.fatigue", "must be an integer from 0 to 3"),
        ({("age",): "46"}, "age", "must be an integer from 0 to 130"),
        ({("age",): 46.0}, "age", "must be an integer from 0 to 130"),
        ({("age",): ...}, "age", "is required"),
        ({("sss", "headaches"): 1}, "sss.headaches", "must be true or false"),
        ({("pain_areas",): ["neck", "neck"]}, "pain_areas", "duplicate value 'neck'"),
        ({("diagnoses", 1): "foo"}, "diagnoses[1]", "unknown value 'foo'"),
        ({("diagnoses", 1): 7}, "diagnoses[1]", "must be a string"),
        ({("favourite_colour",): "blue"}, "favourite_colour", "unexpected field"),
        ({("isi",): [0] * 6}, "isi", "must have exactly 7 items"),
        ({("gad7",): "0000000"}, "gad7", "must be a list"),
        ({("sss",): []}, "sss", "must be an object"),
        (
            {("medication_trials", 0, "dose_mg_per_day"): math.inf},
            "medication_trials[0].dose_mg_per_day",
            "must be a number greater than 0 and at most 10000",
        ),
        ({("medication_trials", 1, "weeks"): -1}, "medication_trials[1].weeks", "must be a number from 0 to 1000"),
        (
            {("medication_trials", 0, "drug"): "Sertraline"},
            "medication_trials[0].drug",
            "must be a lower-case generic name of 1 to 60 letters, digits, spaces or hyphens",
        ),
        ({("sex_at_birth",): "male"}, "pregnancy", "must be 'not_applicable' when sex at birth is male"),
        (
            {("sex_at_birth",): "male", ("pregnancy",): "not_applicable", ("breastfeeding",): True},
            "breastfeeding",
            "must be false when sex at birth is male",
        ),
    ],
)
def test_messages_are_short_and_name_the_field(changes: Mapping[Path, Any], field: str, reason: str) -> None:
    with pytest.raises(AnswersError) as raised:
        parse_answers(mutated(changes))
    assert (raised.value.field, raised.value.reason) == (field, reason)
    assert str(raised.value) == f"{field}: {reason}"


@pytest.mark.parametrize("data", [None, "{}", [], 42, [example_document()]])
def test_a_non_object_document_is_named_document(data: object) -> None:
    with pytest.raises(AnswersError) as raised:
        parse_answers(data)
    assert (raised.value.field, raised.value.reason) == ("document", "must be an object")


def test_the_first_of_several_errors_is_reported() -> None:
    with pytest.raises(AnswersError) as raised:
        parse_answers(mutated({("age",): -1, ("phq9", 0): 9}))
    assert raised.value.field == "age"


def test_male_with_not_applicable_and_not_breastfeeding_is_valid() -> None:
    doc = mutated({("sex_at_birth",): "male", ("pregnancy",): "not_applicable"})
    assert parse_answers(doc).sex_at_birth == "male"


def test_error_does_not_chain_the_pydantic_error() -> None:
    with pytest.raises(AnswersError) as raised:
        parse_answers(mutated({("age",): 200}))
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
