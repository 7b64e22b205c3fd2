"""One FHIR Observation per total score of a submission, its band as the interpretation, derived from the response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..instruments.base import Band
from ..instruments.definitions import GAD7
from ..instruments.definitions import ISI
from ..instruments.definitions import PHQ9
from . import codes

Json = dict[str, Any]


@dataclass(frozen=True)
class Total:
    """A total score the intake computes: its key in the stored scores, its name, and its bands (if any)."""

    key: str
    title: str
    bands: tuple[Band, ...] = ()

    @property
    def band_key(self) -> str:
        """Return the key of the band's name in the stored scores."""
        return f"{self.key}_band"


#: The totals exported, in this order. WPI and SSS have no severity bands of their own (ACR 2016).
TOTALS: tuple[Total, ...] = (
    Total("phq9", f"{PHQ9.title} total score", PHQ9.bands),
    Total("gad7", f"{GAD7.title} total score", GAD7.bands),
    Total("isi", f"{ISI.title} total score", ISI.bands),
    Total("wpi", "Widespread Pain Index (WPI, ACR 2016)"),
    Total("sss", "Symptom Severity Scale (SSS, ACR 2016)"),
)
_SURVEY = {"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}


def _code(base: str, total: Total) -> Json:
    coding = codes.loinc(codes.TOTALS.get(total.key)) or [
        {"system": codes.code_system(base, "scores"), "code": total.key}
    ]
    return {"coding": coding, "text": total.title}


def _interpretation(base: str, total: Total, band_name: str) -> list[Json]:
    """Return the band as the interpretation; nothing for a total without bands."""
    for band in total.bands:
        if band.name == band_name:
            coding = {"system": codes.code_system(base, f"{total.key}-band"), "code": band.name, "display": band.label}
            return [{"coding": [coding], "text": band.label}]
    return []


def observation(
    base: str, total: Total, scores: Mapping[str, Any], *, response_id: str, effective: str, subject: str | None
) -> Json:
    """Return the Observation of one total score."""
    resource: Json = {
        "resourceType": "Observation",
        "id": f"{response_id}-{total.key}",
        "status": "final",
        "category": [_SURVEY],
        "code": _code(base, total),
        "effectiveDateTime": effective,
        "valueInteger": int(scores[total.key]),
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{response_id}"}],
    }
    interpretation = _interpretation(base, total, str(scores.get(total.band_key, "")))
    if interpretation:
        resource["interpretation"] = interpretation
    if subject:
        resource["subject"] = {"reference": subject}
    return resource


def observations(
    base: str, scores: Mapping[str, Any], *, response_id: str, effective: str, subject: str | None = None
) -> list[Json]:
    """Return the Observations of every exported total score."""
    return [
        observation(base, total, scores, response_id=response_id, effective=effective, subject=subject)
        for total in TOTALS
    ]
