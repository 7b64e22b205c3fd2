"""What the physicians' pages show, ready for the templates: labels, scores on their scales, trials, answers.

Read-only helpers over what ``service`` returns; the views in ``views`` render them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from .. import vocabulary
from ..engine.model import RuleSet
from ..instruments import FS_BANDS
from ..instruments import GAD7
from ..instruments import ISI
from ..instruments import PAIN_AVERAGE
from ..instruments import PHQ9
from ..instruments import Band
from ..patient.intake import display
from . import service
from .forms import SafetyFollowupForm

log = logging.getLogger(__name__)

STATUS_LABELS = {"open": "Open", "claimed": "Claimed", "decided": "Decided"}
DECISION_LABELS = {
    "consult": "Invite to a consultation",
    "decline": "Decline (give the reason in the note)",
    "request_info": "Ask the patient for more information",
    "safety_followup_done": "Safety follow-up done",
}
ACTION_LABELS = {
    "claim": "Claimed",
    "release": "Released",
    "take_over": "Took over",
    "decide": "Decided",
    "reopen": "Reopened",
}
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


# --- Presentation -----------------------------------------------------------------------------


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


def waited(delta: timedelta) -> str:
    """Return a waiting time as a person reads it: "25 min", "3 h", "2 d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def utc(moment: datetime | None) -> str:
    """Return a timestamp in UTC, to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def fact_value(value: Any) -> str:
    """Return a fact value as text: yes/no, a list joined, numbers without trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(map(fact_value, value)) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def outcome_titles(ruleset: RuleSet | None) -> dict[str, str]:
    """Return the title of each outcome of the rule set, in queue order."""
    if ruleset is None:
        return {}
    ordered = sorted(ruleset.outcomes.items(), key=lambda item: item[1].priority)
    return {name: spec.title for name, spec in ordered}


def list_outcomes(ruleset: RuleSet | None, counts: Mapping[str, int], *, needs_action: bool) -> dict[str, str]:
    """Return the outcomes a list can show (with their titles): the rule set's, and any that has rows."""
    titles = outcome_titles(ruleset)
    specs = ruleset.outcomes if ruleset is not None else {}
    shown = {name: title for name, title in titles.items() if specs[name].needs_action == needs_action}
    return {**shown, **{name: titles.get(name, name) for name in counts if name not in shown}}


def _score_rows(scores: Mapping[str, Any]) -> list[ScoreRow]:
    """Return the stored scores that have a scale, with their band labels."""
    rows = []
    for key, label, maximum, bands, band_key in SCALES:
        if isinstance(scores.get(key), int):
            band_name = scores.get(band_key) if band_key else None
            band = next((b.label for b in bands if b.name == band_name), band_name)
            rows.append(ScoreRow(key, label, scores[key], maximum, band))
    return rows


def _trial_rows(answers: Mapping[str, Any], assessed: list[Any] | None) -> list[TrialRow]:
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


def _answer_sections(answers: Mapping[str, Any]) -> list[display.Section] | None:
    """Return the answers grouped by instrument, or None when the document cannot be read that way."""
    try:
        return display.sections(answers)
    except (KeyError, TypeError, ValueError, IndexError) as error:  # an old or damaged document
        log.warning("answers not displayable: %s", type(error).__name__)
        return None


def detail_context(found: service.Detail, user_id: int) -> dict[str, Any]:
    """Return what the detail page shows, ready for the template."""
    submission, decision = found.submission, found.decision
    facts = decision.facts if decision is not None else {}
    contraindications = facts.get("contraindications") or []
    return {
        "detail": found,
        "submission": submission,
        "decision": decision,
        "mine": submission.assignee_id == user_id,
        "sections": _answer_sections(submission.answers or {}),
        "scores": _score_rows(submission.scores or {}),
        "fibromyalgia": (submission.scores or {}).get("fibromyalgia_acr2016"),
        "trials": _trial_rows(submission.answers or {}, decision.trials if decision is not None else None),
        "facts": facts,
        "contraindications": [vocabulary.label(vocabulary.MEDICAL_HISTORY, code) for code in contraindications],
        # A safety follow-up has a form of its own, which asks for the result of the contact attempt.
        "choices": {code: label for code, label in DECISION_LABELS.items() if code != service.SAFETY_FOLLOWUP},
        "followup": SafetyFollowupForm() if submission.safety_flag else None,
    }


def labels() -> dict[str, Any]:
    """Return the labels and helpers every review template uses."""
    return {
        "status_labels": STATUS_LABELS,
        "decision_labels": DECISION_LABELS,
        "action_labels": ACTION_LABELS,
        "waited": waited,
        "utc": utc,
        "fact_value": fact_value,
        "contact_results": service.CONTACT_RESULTS,
    }
