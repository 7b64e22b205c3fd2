"""The facts rules may read: a typed, documented vocabulary, and how each fact is derived.

Scores come from ``screening.instruments``; derived facts (TRD, contraindications...) are
computed here from the answers document and the clinical tables of the rule set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Mapping

from rule_engine import DataType

from .tables import Tables

BOOL = DataType.BOOLEAN
NUMBER = DataType.FLOAT
TEXT = DataType.STRING
CODES = DataType.ARRAY(DataType.STRING)


@dataclass(frozen=True)
class Fact:
    """One name a rule condition may use."""

    name: str
    type: Any
    meaning: str

    @property
    def type_name(self) -> str:
        """Return the type as staff read it."""
        return {BOOL: "boolean", NUMBER: "number", TEXT: "text"}.get(self.type, "list of text")


FACTS: tuple[Fact, ...] = (
    Fact("age", NUMBER, "Age in years."),
    Fact("sex_at_birth", TEXT, "female, male, intersex or undisclosed."),
    Fact("pregnancy", TEXT, "no, yes, possible or not_applicable."),
    Fact("breastfeeding", BOOL, "Breastfeeding now."),
    Fact("diagnoses", CODES, "Self-reported diagnoses (codes such as fibromyalgia, depression, bipolar)."),
    Fact("medical_history", CODES, "Medical history codes reported (such as psychosis, glaucoma)."),
    Fact("current_medications", CODES, "Current medicine classes: maoi, stimulant, benzodiazepine, opioid."),
    Fact("contraindications", CODES, "Medical history codes that the contraindications table lists as needing review."),
    Fact("wpi", NUMBER, "Widespread Pain Index, 0-19 painful areas in the past week."),
    Fact("sss", NUMBER, "Symptom Severity Scale, 0-12."),
    Fact("fs", NUMBER, "Fibromyalgia severity (WPI + SSS), 0-31."),
    Fact("fs_band", TEXT, "Polysymptomatic distress band: none, mild, moderate, severe, very_severe."),
    Fact("generalized_pain_regions", NUMBER, "Regions (of 5) with pain, jaw, chest and abdomen not counted."),
    Fact("pain_duration_months", NUMBER, "Months the symptoms have been generally present."),
    Fact("fibromyalgia_acr2016", BOOL, "Self-reported answers meet the ACR 2016 fibromyalgia criteria."),
    Fact("pain_average", NUMBER, "Average pain in the past week, 0-10."),
    Fact("pain_band", TEXT, "Pain band: none, mild, moderate, severe."),
    Fact("phq9", NUMBER, "PHQ-9 total, 0-27."),
    Fact("phq9_band", TEXT, "PHQ-9 band: minimal, mild, moderate, moderately_severe, severe."),
    Fact("phq9_item9", NUMBER, "PHQ-9 item 9 (thoughts of death or self-harm), 0-3."),
    Fact("safety_concern", BOOL, "PHQ-9 item 9 is 1 or more."),
    Fact("gad7", NUMBER, "GAD-7 total, 0-21."),
    Fact("gad7_band", TEXT, "GAD-7 band: minimal, mild, moderate, severe."),
    Fact("isi", NUMBER, "Insomnia Severity Index total, 0-28."),
    Fact("isi_band", TEXT, "ISI band: none, subthreshold, moderate, severe."),
    Fact("adequate_failed_trials", NUMBER, "Distinct antidepressants with an adequate trial that failed (TRD table)."),
    Fact("trd", BOOL, "Treatment-resistant depression: adequate_failed_trials reaches the TRD table's minimum."),
    Fact("graded_exercise", TEXT, "Graded exercise: never, tried or current."),
    Fact("cbt", TEXT, "Cognitive behavioural therapy: never, tried or current."),
    Fact("sleep_treatment", TEXT, "Sleep treatment: never, tried or current."),
    Fact(
        "foundations_never_tried", CODES, "First-line treatments (graded_exercise, cbt, sleep_treatment) never tried."
    ),
    Fact(
        "in_service_area",
        BOOL,
        "The patient's US state (contact step) is one the clinic serves (SCREENING_SERVICE_STATES; empty: all)."
        " True when no state was given (declined contact, state left out, or the screen command): only a"
        " given state outside the area is false. Fixed when the answers are sent.",
    ),
)

FACT_TYPES: dict[str, Any] = {fact.name: fact.type for fact in FACTS}
THERAPY_CODES = ("graded_exercise", "cbt", "sleep_treatment")


@dataclass(frozen=True)
class TrialAssessment:
    """Whether one medication trial counts toward TRD, and why not when it does not."""

    drug: str
    counts: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Return the assessment as JSON-able data."""
        return {"drug": self.drug, "counts": self.counts, "reasons": list(self.reasons)}


def assess_trial(trial: Mapping[str, Any], tables: Tables) -> TrialAssessment:
    """Decide whether a trial is an adequate, failed antidepressant trial under the TRD table."""
    trd = tables.trd
    minimum = tables.antidepressant_minimum_doses.get(trial["drug"])
    reasons: list[str] = []
    if minimum is None:
        reasons.append("not an antidepressant in the clinic's dose table")
    elif trial["dose_mg_per_day"] < minimum:
        reasons.append(f"dose below the minimum of {minimum:g} mg/day")
    if trial["weeks"] < trd.min_weeks:
        reasons.append(f"shorter than {trd.min_weeks:g} weeks")
    if trial["improvement_pct"] >= trd.nonresponse_below_pct:
        reasons.append(f"improved {trd.nonresponse_below_pct}% or more (a response)")
    if trd.current_episode_only and not trial["current_episode"]:
        reasons.append("taken before the current episode")
    if trd.exclude_stopped_early and trial["stopped_early"]:
        reasons.append("stopped early for side effects")
    return TrialAssessment(trial["drug"], not reasons, tuple(reasons))


def adequate_failed_trials(assessments: list[TrialAssessment]) -> int:
    """Return the number of distinct drugs with at least one trial that counts."""
    return len({a.drug for a in assessments if a.counts})


def derive_facts(
    document: Mapping[str, Any], scores: Mapping[str, Any], tables: Tables, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return every fact of the vocabulary for one answers document, its scores and its context facts."""
    failed = adequate_failed_trials([assess_trial(t, tables) for t in document["medication_trials"]])
    therapies = document["therapies"]
    facts: dict[str, Any] = {
        **{name: document[name] for name in ("age", "sex_at_birth", "pregnancy", "breastfeeding")},
        **{name: list(document[name]) for name in ("diagnoses", "medical_history", "current_medications")},
        "contraindications": [c for c in document["medical_history"] if c in tables.contraindications],
        **{name: scores[name] for name in FACT_TYPES if name in scores},
        "pain_duration_months": document["pain_duration_months"],
        "safety_concern": scores["phq9_item9"] >= 1,
        "adequate_failed_trials": failed,
        "trd": failed >= tables.trd.min_failed_trials,
        **{code: therapies[code] for code in THERAPY_CODES},
        "foundations_never_tried": [code for code in THERAPY_CODES if therapies[code] == "never"],
        "in_service_area": bool((context or {}).get("in_service_area", True)),
    }
    return facts


def trial_assessments(document: Mapping[str, Any], tables: Tables) -> list[dict[str, Any]]:
    """Return, for each medication trial, whether it counted toward TRD and why."""
    return [assess_trial(trial, tables).as_dict() for trial in document["medication_trials"]]
