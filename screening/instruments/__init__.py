"""Instrument definitions (items, options, time frame, bands, source, licence) and pure scoring.

No Flask here: forms, rules and the CLI all read these plain definitions and functions.
"""

from __future__ import annotations

from .acr2016 import PAIN_AREA_KEYS
from .acr2016 import PAIN_AREAS
from .acr2016 import REGIONS
from .acr2016 import PainArea
from .acr2016 import Region
from .base import Band
from .base import Instrument
from .base import Item
from .base import Option
from .base import Source
from .base import band_for
from .definitions import FS_BANDS
from .definitions import GAD7
from .definitions import INSTRUMENTS
from .definitions import ISI
from .definitions import PAIN_AVERAGE
from .definitions import PHQ9
from .definitions import SSS_SOMATIC
from .definitions import SSS_SYMPTOMS
from .scoring import Scores
from .scoring import generalized_pain_regions
from .scoring import likert_total
from .scoring import meets_acr2016
from .scoring import score_answers
from .scoring import sss_total
from .scoring import wpi

__all__ = [
    "FS_BANDS",
    "GAD7",
    "INSTRUMENTS",
    "ISI",
    "PAIN_AREAS",
    "PAIN_AREA_KEYS",
    "PAIN_AVERAGE",
    "PHQ9",
    "REGIONS",
    "SSS_SOMATIC",
    "SSS_SYMPTOMS",
    "Band",
    "Instrument",
    "Item",
    "Option",
    "PainArea",
    "Region",
    "Scores",
    "Source",
    "band_for",
    "generalized_pain_regions",
    "likert_total",
    "meets_acr2016",
    "score_answers",
    "sss_total",
    "wpi",
]
