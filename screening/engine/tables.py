"""The clinical tables of a rule set: antidepressant minimum doses, TRD settings, contraindications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from ..vocabulary import MEDICAL_HISTORY

MedicalHistoryCode = Literal[tuple(MEDICAL_HISTORY)]  # type: ignore[valid-type]

#: Where each table lives inside the rules directory.
ANTIDEPRESSANTS = "tables/antidepressants.yaml"
TRD = "tables/trd.yaml"
CONTRAINDICATIONS = "tables/contraindications.yaml"
TABLE_FILES = (ANTIDEPRESSANTS, TRD, CONTRAINDICATIONS)

DrugName = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9 -]*[a-z0-9])?$", max_length=60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AntidepressantTable(_Strict):
    """Minimum daily dose at which a trial of each antidepressant counts toward TRD."""

    minimum_dose_mg_per_day: dict[DrugName, Annotated[float, Field(gt=0, le=10000, strict=False)]]


class TrdSettings(_Strict):
    """When a medication trial is adequate and failed, and how many make TRD."""

    min_weeks: Annotated[float, Field(gt=0, le=104, strict=False)]
    nonresponse_below_pct: Annotated[int, Field(gt=0, le=100)]
    min_failed_trials: Annotated[int, Field(ge=1, le=10)]
    current_episode_only: bool
    exclude_stopped_early: bool


class ContraindicationTable(_Strict):
    """Medical history answers that hold a submission for a physician's review."""

    needs_review: list[MedicalHistoryCode] = Field(min_length=1)


@dataclass(frozen=True)
class Tables:
    """The tables a rule set's facts are derived with."""

    antidepressant_minimum_doses: dict[str, float]
    trd: TrdSettings
    contraindications: frozenset[str]
