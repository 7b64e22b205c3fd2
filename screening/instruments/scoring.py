"""Pure scoring of the intake's instruments and of the ACR 2016 fibromyalgia criteria.

Every function takes plain values and returns plain values: no app, no request, no database.
Inputs are checked as they are scored, so a wrong answer raises ``ValueError`` naming it
instead of being silently counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import Iterable
from typing import Mapping
from typing import Sequence

from .acr2016 import PAIN_AREAS
from .acr2016 import PainArea
from .base import Instrument
from .base import band_for
from .definitions import FS_BANDS
from .definitions import GAD7
from .definitions import ISI
from .definitions import PAIN_AVERAGE
from .definitions import PHQ9
from .definitions import SSS_SOMATIC
from .definitions import SSS_SYMPTOMS

# ACR 2016 thresholds (clinical-reference §1.2, [V]). 2010/2011 used a WPI lower arm of 3, not 4.
WPI_HIGH = 7
SSS_WITH_HIGH_WPI = 5
WPI_LOW = 4
SSS_WITH_LOW_WPI = 9
MIN_GENERALIZED_REGIONS = 4
MIN_DURATION_MONTHS = 3

_AREAS_BY_KEY: Mapping[str, PainArea] = {area.key: area for area in PAIN_AREAS}


def _check_points(instrument: Instrument, index: int, answer: object) -> int:
    """Return ``answer`` if it is one of the item's option points, else raise ValueError."""
    allowed = instrument.points_by_item[index]
    if isinstance(answer, bool) or not isinstance(answer, int) or answer not in allowed:
        item = instrument.items[index]
        raise ValueError(f"{instrument.key} item {index + 1} ({item.key}): {answer!r} is not one of {list(allowed)}")
    return answer


def likert_total(instrument: Instrument, answers: Sequence[int]) -> int:
    """Sum the answers after checking there is one valid answer per item."""
    if isinstance(answers, (str, bytes)):
        raise ValueError(f"{instrument.key} must be a list of answers, not a string")
    if len(answers) != len(instrument.items):
        raise ValueError(f"{instrument.key} needs {len(instrument.items)} answers, got {len(answers)}")
    return sum(_check_points(instrument, index, answer) for index, answer in enumerate(answers))


def _pain_areas(areas: Iterable[str]) -> set[PainArea]:
    """Return the distinct WPI areas named, raising ValueError on an unknown key."""
    if isinstance(areas, str):
        raise ValueError("pain_areas must be a list of area keys, not a string")
    chosen = set()
    for key in areas:
        if key not in _AREAS_BY_KEY:
            raise ValueError(f"pain_areas: unknown WPI area {key!r}")
        chosen.add(_AREAS_BY_KEY[key])
    return chosen


def wpi(areas: Iterable[str]) -> int:
    """Count the distinct Widespread Pain Index areas (0-19)."""
    return len(_pain_areas(areas))


def generalized_pain_regions(areas: Iterable[str]) -> int:
    """Count the regions with pain in at least one area that counts toward generalized pain."""
    return len({area.region for area in _pain_areas(areas) if area.generalized})


def _flag(sss: Mapping[str, Any], key: str) -> int:
    """Return a part-B answer as 0 or 1, raising ValueError on anything but a yes/no."""
    value = sss[key]
    if not isinstance(value, int) or value not in (0, 1):
        raise ValueError(f"sss.{key}: {value!r} is not a yes/no answer")
    return int(value)


def sss_total(sss: Mapping[str, Any]) -> int:
    """Return the Symptom Severity Scale (0-12): part A (0-9) plus part B (0-3)."""
    expected = [item.key for item in (*SSS_SYMPTOMS.items, *SSS_SOMATIC.items)]
    missing = [key for key in expected if key not in sss]
    unknown = sorted(set(sss) - set(expected))
    if missing or unknown:
        raise ValueError(f"sss: missing {missing}, unknown {unknown}")
    part_a = likert_total(SSS_SYMPTOMS, [sss[item.key] for item in SSS_SYMPTOMS.items])
    part_b = likert_total(SSS_SOMATIC, [_flag(sss, item.key) for item in SSS_SOMATIC.items])
    return part_a + part_b


def meets_acr2016(wpi: int, sss: int, regions: int, duration_months: int) -> bool:
    """Return whether the scores meet the ACR 2016 fibromyalgia criteria thresholds."""
    severity = (wpi >= WPI_HIGH and sss >= SSS_WITH_HIGH_WPI) or (WPI_LOW <= wpi < WPI_HIGH and sss >= SSS_WITH_LOW_WPI)
    return severity and regions >= MIN_GENERALIZED_REGIONS and duration_months >= MIN_DURATION_MONTHS


@dataclass(frozen=True)
class Scores:
    """Every score the intake derives from one answers document."""

    wpi: int
    sss: int
    fs: int
    fs_band: str
    generalized_pain_regions: int
    fibromyalgia_acr2016: bool
    pain_average: int
    pain_band: str
    phq9: int
    phq9_band: str
    phq9_item9: int
    gad7: int
    gad7_band: str
    isi: int
    isi_band: str

    def as_dict(self) -> dict[str, int | str | bool]:
        """Return the scores as a plain dict, bands by name (every field is a plain value: no deep copy needed)."""
        return {name: getattr(self, name) for name in _SCORE_FIELDS}


#: The names of the scores, in their order.
_SCORE_FIELDS = tuple(field.name for field in fields(Scores))


def _field(doc: Mapping[str, Any], name: str) -> Any:
    """Return a field of the answers document, raising ValueError naming it when missing."""
    if name not in doc:
        raise ValueError(f"answers document has no {name!r}")
    return doc[name]


def _duration(doc: Mapping[str, Any]) -> int:
    """Return the pain duration in months, raising ValueError when it is not a whole number >= 0."""
    value = _field(doc, "pain_duration_months")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"pain_duration_months: {value!r} is not a whole number of months")
    return value


def score_answers(doc: Mapping[str, Any]) -> Scores:
    """Score a canonical answers document."""
    areas = list(_field(doc, "pain_areas"))
    wpi_score = wpi(areas)
    sss_score = sss_total(_field(doc, "sss"))
    regions = generalized_pain_regions(areas)
    pain = likert_total(PAIN_AVERAGE, [_field(doc, "pain_average")])
    phq9_answers = _field(doc, "phq9")
    phq9 = likert_total(PHQ9, phq9_answers)
    gad7 = likert_total(GAD7, _field(doc, "gad7"))
    isi = likert_total(ISI, _field(doc, "isi"))
    return Scores(
        wpi=wpi_score,
        sss=sss_score,
        fs=wpi_score + sss_score,
        fs_band=band_for(FS_BANDS, wpi_score + sss_score).name,
        generalized_pain_regions=regions,
        fibromyalgia_acr2016=meets_acr2016(wpi_score, sss_score, regions, _duration(doc)),
        pain_average=pain,
        pain_band=band_for(PAIN_AVERAGE.bands, pain).name,
        phq9=phq9,
        phq9_band=band_for(PHQ9.bands, phq9).name,
        phq9_item9=phq9_answers[8],
        gad7=gad7,
        gad7_band=band_for(GAD7.bands, gad7).name,
        isi=isi,
        isi_band=band_for(ISI.bands, isi).name,
    )
