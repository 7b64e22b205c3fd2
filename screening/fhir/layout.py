"""Where each part of the answers document sits in the Questionnaire, shared by the form and its responses.

Link ids follow the answers document: a plain field is its own name (``age``), an instrument is a group
named by its key whose items are ``{instrument}.{item}`` (``phq9.phq9_9``), a medication trial is one
repetition of the ``medication_trials`` group, and a therapy is ``therapies.{code}``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from .. import vocabulary
from ..instruments import acr2016
from ..instruments.base import Instrument
from ..instruments.base import Item
from ..instruments.definitions import GAD7
from ..instruments.definitions import ISI
from ..instruments.definitions import PAIN_AVERAGE
from ..instruments.definitions import PHQ9
from ..instruments.definitions import SSS_SOMATIC
from ..instruments.definitions import SSS_SYMPTOMS

#: Questions answered with one code of a vocabulary, and with any number of codes (``repeats``).
SINGLE_CODED: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"sex_at_birth": vocabulary.SEX_AT_BIRTH, "pregnancy": vocabulary.PREGNANCY}
)
MULTI_CODED: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "diagnoses": vocabulary.DIAGNOSES,
        "pain_areas": MappingProxyType({area.key: area.label for area in acr2016.PAIN_AREAS}),
        "medical_history": vocabulary.MEDICAL_HISTORY,
        "current_medications": vocabulary.CURRENT_MEDICATIONS,
    }
)
#: The instruments in the order the intake asks them; the document field each one's points go in.
INSTRUMENTS: tuple[tuple[Instrument, str], ...] = (
    (PAIN_AVERAGE, "pain_average"),
    (SSS_SYMPTOMS, "sss"),
    (SSS_SOMATIC, "sss"),
    (PHQ9, "phq9"),
    (GAD7, "gad7"),
    (ISI, "isi"),
)
#: A medication trial's fields and their FHIR item types.
TRIAL_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "drug": "string",
        "dose_mg_per_day": "decimal",
        "weeks": "decimal",
        "improvement_pct": "integer",
        "current_episode": "boolean",
        "stopped_early": "boolean",
    }
)
TRIALS = "medication_trials"
THERAPIES = "therapies"
#: The questions that apply only when the sex at birth is not male (enableWhen).
PREGNANCY_QUESTIONS = ("pregnancy", "breastfeeding")
NOT_APPLICABLE_WHEN = ("sex_at_birth", "male")


def item_link(instrument: Instrument, item: Item) -> str:
    """Return the link id of one item of an instrument."""
    return f"{instrument.key}.{item.key}"


def child_link(group: str, name: str) -> str:
    """Return the link id of a field inside a group (a trial's dose, a therapy)."""
    return f"{group}.{name}"


def vocabulary_name(link_id: str) -> str:
    """Return the name of the clinic code system that codes the answers of ``link_id``."""
    return link_id.replace("_", "-")


#: Instruments whose items the answers document keeps as true or false (0 or 1 point).
YES_NO_INSTRUMENTS = frozenset({SSS_SOMATIC.key})
THERAPY_STATUS = vocabulary.THERAPY_STATUS
THERAPY_CODES = tuple(vocabulary.THERAPIES)
THERAPY_STATUS_SYSTEM = "therapy-status"
