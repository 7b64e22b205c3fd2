"""The clinical part of a submission's page, ready for its template: scores on their scales, trials, answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import vocabulary
from ..instruments import FS_BANDS
from ..instruments import GAD7
from ..instruments import ISI
from ..instruments import PAIN_AVERAGE
from ..instruments import PHQ9
from ..instruments import Band
from ..patient.intake import display

log = logging.getLogger(__name__)

#: The scores shown with a scale: key, label, highest value, bands, key of the stored band.
SCALES: tuple[tuple[str, str, int, tuple[Band, ...], str | None], ...] = (
    ("phq9", "PHQ-9 (depression)", PHQ9.max_total, PHQ9.bands, "phq9_band"),
    ("phq9_item9", "PHQ-9 item 9 (thoughts of self-harm)", 3, (), None),
    ("gad7", "GAD-7 (anxiety)", GAD7.max_total, GAD7.bands, "gad7_band"),
    ("isi", "Insomnia Severity Index", ISI.max_total, ISI.bands, "isi_band"),
    ("pain_average", "Average pain, past week", PAIN_AVERAGE.max_total, PAIN_AVERAGE.bands, "pain_band"),
    ("wpi", "Widespread Pain Index", 19, (), None),
    ("sss", "Symptom Severity Scale", 12, (), None),
    ("fs", "Fibromyalgia severity (WPI + SSS)", 31, FS_BANDS, "fs_band"),
    ("generalized_pain_regions", "Regions with generalized pain", 5, (), None),
)


@dataclass(frozen=True)
class ScoreRow:
    """One score with its band, drawn on a scale from 0 to ``maximum``."""

    key: str
    label: str
    value: int
    maximum: int
    band: str | None


@dataclass(frozen=True)
class TrialRow:
    """One medication trial and whether it counted toward treatment-resistant depression."""

    medicine: str
    summary: str
    counts: bool | None
    reasons: tuple[str, ...]


def score_rows(scores: Mapping[str, Any]) -> list[ScoreRow]:
    """Return the stored scores that have a scale, with their band labels."""
    rows = []
    for key, label, maximum, bands, band_key in SCALES:
        if isinstance(scores.get(key), int):
            band_name = scores.get(band_key) if band_key else None
            band = next((b.label for b in bands if b.name == band_name), band_name)
            rows.append(ScoreRow(key, label, scores[key], maximum, band))
    return rows


def trial_rows(answers: Mapping[str, Any], assessed: list[Any] | None) -> list[TrialRow]:
    """Return each medication trial the patient listed, with the rules' verdict on it."""
    trials = answers.get("medication_trials") or []
    verdicts = assessed if assessed is not None and len(assessed) == len(trials) else [None] * len(trials)
    return [
        TrialRow(
            vocabulary.label(vocabulary.MEDICATIONS, str(trial.get("drug", ""))),
            display.trial_summary(trial) if isinstance(trial, Mapping) else "",
            verdict["counts"] if verdict else None,
            tuple(verdict["reasons"]) if verdict else (),
        )
        for trial, verdict in zip(trials, verdicts, strict=True)
    ]


def answer_sections(answers: Mapping[str, Any]) -> list[display.Section] | None:
    """Return the answers grouped by instrument, or None when the document cannot be read that way."""
    try:
        return display.sections(answers)
    except (KeyError, TypeError, ValueError, IndexError) as error:  # an old or damaged document
        log.warning("answers not displayable: %s", type(error).__name__)
        return None
