"""The canonical answers document: its pydantic model and the one way to validate it.

Every submission is reduced to this shape (DESIGN.md, "Contract: the canonical answers
document"); scoring, rules, the CLI and exports all read it. ``parse_answers`` turns any
JSON-like value into an ``AnswersDocument`` or raises ``AnswersError`` naming the first bad
field as a readable path (``phq9[8]``, ``sss.fatigue``, ``medication_trials[0].weeks``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from . import vocabulary
from .errors import AnswersError
from .instruments.acr2016 import PAIN_AREA_KEYS

__all__ = [
    "AnswersDocument",
    "MedicationTrial",
    "SymptomSeverity",
    "Therapies",
    "example_document",
    "field_path",
    "parse_answers",
]

#: Custom error type: its message is already the plain text a person reads.
_ERROR = "answers_invalid"
#: Longest slice of a bad value echoed back in a message.
_ECHO = 40
MAX_MEDICATION_TRIALS = 30
#: Lower-case generic name: letters, digits, spaces, hyphens; a letter or digit at each end (length is checked apart).
DRUG_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9 -]*[a-z0-9])?$"


def _fail(reason: str) -> PydanticCustomError:
    """Return a validation error whose message is exactly ``reason``."""
    return PydanticCustomError(_ERROR, "{reason}", {"reason": reason})


def _echo(value: str) -> str:
    """Return a short quoted echo of a bad string value."""
    return repr(value if len(value) <= _ECHO else value[:_ECHO] + "...")


def _message(reason: str) -> WrapValidator:
    """Return a validator that replaces any failure of the inner type with ``reason``."""

    def wrap(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise _fail(reason) from None

    return WrapValidator(wrap)


def _code(codes: Iterable[str]) -> Any:
    """Return a strict Literal type of the given codes that reports unknown values plainly."""

    def wrap(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise _fail(f"unknown value {_echo(value)}" if isinstance(value, str) else "must be a string") from None

    return Annotated[Literal[tuple(codes)], WrapValidator(wrap)]  # type: ignore[valid-type]


def _int(low: int, high: int) -> Any:
    """Return a strict int type bounded to ``low..high``."""
    return Annotated[int, Field(ge=low, le=high), _message(f"must be an integer from {low} to {high}")]


def _unique(values: list[str]) -> list[str]:
    """Reject a list of codes that names a code twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _fail(f"duplicate value {_echo(value)}")
        seen.add(value)
    return values


def _codes(codes: Iterable[str]) -> Any:
    """Return a list type of distinct codes drawn from ``codes``."""
    return Annotated[list[_code(codes)], AfterValidator(_unique)]  # type: ignore[valid-type]


def _length(low: int, high: int, reason: str) -> Callable[[object], object]:
    """Return a before-validator that rejects a list of the wrong length before reading its items."""

    def check(value: object) -> object:
        if isinstance(value, list) and not low <= len(value) <= high:
            raise _fail(reason)
        return value

    return check


def _scores(count: int, high: int) -> Any:
    """Return a list type of exactly ``count`` item scores, each 0..high."""
    reason = f"must have exactly {count} items"
    item = _int(0, high)
    return Annotated[
        list[item],  # type: ignore[valid-type]
        Field(min_length=count, max_length=count),
        BeforeValidator(_length(count, count, reason)),
    ]


_Bool = Annotated[bool, _message("must be true or false")]
_DrugName = Annotated[
    str,
    Field(min_length=1, max_length=60, pattern=DRUG_NAME_PATTERN),
    _message("must be a lower-case generic name of 1 to 60 letters, digits, spaces or hyphens"),
]
_Dose = Annotated[
    Annotated[int, Field(gt=0, le=10000)] | Annotated[float, Field(gt=0, le=10000, allow_inf_nan=False)],
    _message("must be a number greater than 0 and at most 10000"),
]
_Weeks = Annotated[
    Annotated[int, Field(ge=0, le=1000)] | Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)],
    _message("must be a number from 0 to 1000"),
]
_Status = _code(vocabulary.THERAPY_STATUS)
_MODEL_CONFIG = ConfigDict(strict=True, extra="forbid", frozen=True)


class SymptomSeverity(BaseModel):
    """The ACR 2016 symptom severity answers (``sss``)."""

    model_config = _MODEL_CONFIG

    fatigue: _int(0, 3)  # type: ignore[valid-type]
    unrefreshed: _int(0, 3)  # type: ignore[valid-type]
    cognitive: _int(0, 3)  # type: ignore[valid-type]
    headaches: _Bool
    lower_abdominal: _Bool
    depression: _Bool


class MedicationTrial(BaseModel):
    """One prior medication trial as the patient reported it."""

    model_config = _MODEL_CONFIG

    drug: _DrugName
    dose_mg_per_day: _Dose
    weeks: _Weeks
    improvement_pct: _int(0, 100)  # type: ignore[valid-type]
    current_episode: _Bool
    stopped_early: _Bool


class Therapies(BaseModel):
    """Whether each first-line fibromyalgia treatment was never tried, tried or is current."""

    model_config = _MODEL_CONFIG

    graded_exercise: _Status  # type: ignore[valid-type]
    cbt: _Status  # type: ignore[valid-type]
    sleep_treatment: _Status  # type: ignore[valid-type]


class AnswersDocument(BaseModel):
    """One submission's answers in the canonical shape; fields in DESIGN.md order."""

    model_config = _MODEL_CONFIG

    age: _int(0, 130)  # type: ignore[valid-type]
    sex_at_birth: _code(vocabulary.SEX_AT_BIRTH)  # type: ignore[valid-type]
    pregnancy: _code(vocabulary.PREGNANCY)  # type: ignore[valid-type]
    breastfeeding: _Bool
    diagnoses: _codes(vocabulary.DIAGNOSES)  # type: ignore[valid-type]
    pain_areas: _codes(PAIN_AREA_KEYS)  # type: ignore[valid-type]
    pain_duration_months: _int(0, 1200)  # type: ignore[valid-type]
    sss: SymptomSeverity
    pain_average: _int(0, 10)  # type: ignore[valid-type]
    phq9: _scores(9, 3)  # type: ignore[valid-type]
    gad7: _scores(7, 3)  # type: ignore[valid-type]
    isi: _scores(7, 4)  # type: ignore[valid-type]
    medication_trials: Annotated[
        list[MedicationTrial],
        Field(max_length=MAX_MEDICATION_TRIALS),
        BeforeValidator(_length(0, MAX_MEDICATION_TRIALS, f"must have at most {MAX_MEDICATION_TRIALS} items")),
    ]
    therapies: Therapies
    medical_history: _codes(vocabulary.MEDICAL_HISTORY)  # type: ignore[valid-type]
    current_medications: _codes(vocabulary.CURRENT_MEDICATIONS)  # type: ignore[valid-type]

    @field_validator("pregnancy")
    @classmethod
    def _pregnancy_fits_sex(cls, value: str, info: ValidationInfo) -> str:
        """Require "not_applicable" pregnancy when the sex at birth is male."""
        if info.data.get("sex_at_birth") == "male" and value != "not_applicable":
            raise _fail("must be 'not_applicable' when sex at birth is male")
        return value

    @field_validator("breastfeeding")
    @classmethod
    def _breastfeeding_fits_sex(cls, value: bool, info: ValidationInfo) -> bool:
        """Require breastfeeding to be false when the sex at birth is male."""
        if info.data.get("sex_at_birth") == "male" and value:
            raise _fail("must be false when sex at birth is male")
        return value

    def to_document(self) -> dict[str, Any]:
        """Return the canonical plain JSON-able dict, keys in DESIGN.md order."""
        return self.model_dump(mode="json")


_STRUCTURE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unexpected field",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


def field_path(loc: tuple[int | str, ...]) -> str:
    """Return a pydantic error location as a readable path like ``medication_trials[0].weeks``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "document"


def _reason(error: Mapping[str, Any]) -> str:
    """Return the plain message for one pydantic error."""
    if error["type"] == _ERROR:
        return str(error["msg"])
    return _STRUCTURE_MESSAGES.get(error["type"], str(error["msg"]))


def parse_answers(data: object) -> AnswersDocument:
    """Validate ``data`` as an answers document; raise AnswersError for the first problem."""
    try:
        return AnswersDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # ``from None``: the chained error would carry the patient's answers into logs.
        raise AnswersError(field_path(first["loc"]), _reason(first)) from None


def example_document() -> dict[str, Any]:
    """Return a realistic valid document: an adult woman meeting ACR 2016 with two failed antidepressant trials."""
    return {
        "age": 46,
        "sex_at_birth": "female",
        "pregnancy": "no",
        "breastfeeding": False,
        "diagnoses": ["fibromyalgia", "depression", "ibs"],
        # WPI 10, generalized pain in all 5 regions; with SSS 10 this meets ACR 2016.
        "pain_areas": [
            "shoulder_girdle_left",
            "shoulder_girdle_right",
            "upper_arm_left",
            "hip_left",
            "hip_right",
            "upper_leg_left",
            "upper_leg_right",
            "neck",
            "upper_back",
            "lower_back",
        ],
        "pain_duration_months": 48,
        "sss": {
            "fatigue": 3,
            "unrefreshed": 3,
            "cognitive": 2,
            "headaches": True,
            "lower_abdominal": False,
            "depression": True,
        },
        "pain_average": 7,
        "phq9": [2, 2, 3, 2, 1, 2, 2, 1, 0],
        "gad7": [2, 1, 2, 2, 1, 1, 2],
        "isi": [3, 3, 2, 3, 3, 2, 3],
        "medication_trials": [
            {
                "drug": "sertraline",
                "dose_mg_per_day": 100,
                "weeks": 12,
                "improvement_pct": 10,
                "current_episode": True,
                "stopped_early": False,
            },
            {
                "drug": "duloxetine",
                "dose_mg_per_day": 60,
                "weeks": 8.5,
                "improvement_pct": 20,
                "current_episode": True,
                "stopped_early": False,
            },
        ],
        "therapies": {"graded_exercise": "tried", "cbt": "tried", "sleep_treatment": "never"},
        "medical_history": [],
        "current_medications": [],
    }
