"""The safety decision: made by the engine itself, before and apart from every rule in the files.

A submission whose PHQ-9 item 9 is above 0 is ``safety``, first in the review queue, with the crisis
message, whatever the other rules, tables or outcome definitions say, and also when evaluating them
fails. The rule files still spell the safety rule and outcome out (staff read them there), but only
as a copy the loader compares with the texts below: a rule set whose copy differs does not load.

Everything a rule-file edit could use to reach a safety patient is fixed here: the condition, the
outcome's name, queue position, title and patient message, the notes, how low the ``error:`` outcome
may rank, and test cases that every rule set must pass and no file can remove.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..answers import example_document
from .spec import CaseSpec
from .spec import ExpectSpec

SAFETY_RULE_ID = "safety-self-harm"
SAFETY_CONDITION = "phq9_item9 >= 1"
SAFETY_OUTCOME = "safety"
#: The safety outcome's place in the review queue: first.
SAFETY_PRIORITY = 1
SAFETY_TITLE = "Safety follow-up"
SAFETY_MESSAGE = (
    "Thank you for completing the form. A clinician will review your answers. Because of one of your "
    "answers, please read the support information on this page now."
)
SAFETY_PATIENT_NOTE = (
    "You told us you have had thoughts that you would be better off dead or of hurting yourself. You do "
    "not have to wait for the clinic: call or text 988 (Suicide & Crisis Lifeline, free, 24 hours a day). "
    "If you are in immediate danger, call 911 or go to the nearest emergency department. This form is not "
    "monitored in real time."
)
SAFETY_PHYSICIAN_NOTE = (
    "PHQ-9 item 9 above 0. Follow up the same day with a validated suicide-risk assessment (for example the "
    "C-SSRS screener). Item 9 alone neither excludes nor qualifies the patient."
)
#: The notes every safety decision carries, as (audience, text).
SAFETY_NOTES = (("patient", SAFETY_PATIENT_NOTE), ("physician", SAFETY_PHYSICIAN_NOTE))
#: The ``error:`` outcome (rules could not be evaluated) must need action and sit at this place in the queue
#: or before it: the place of a manual review in the default policy.
ERROR_PRIORITY_AT_MOST = 4

#: Where the engine's own test cases are reported, as a rule file would be.
ENGINE_CASES_FILE = "(safety cases built into the engine)"


def item9_of(answers: Mapping[str, Any]) -> int:
    """Return PHQ-9 item 9 of an answers document, 0 when it cannot be read."""
    phq9 = answers.get("phq9")
    if isinstance(phq9, (list, tuple)) and len(phq9) >= 9:
        value = phq9[8]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def at_risk(item9: object) -> bool:
    """Return True when a PHQ-9 item 9 value shows a risk of self-harm (any answer above "not at all")."""
    return isinstance(item9, (int, float)) and not isinstance(item9, bool) and item9 >= 1


def same_text(first: str, second: str) -> bool:
    """Return True when two texts differ at most in line breaks and spacing (YAML folds them)."""
    return " ".join(first.split()) == " ".join(second.split())


def _case(name: str, answers: dict[str, Any]) -> CaseSpec:
    """Return an engine case: the answers must give ``safety`` with the safety rule fired."""
    return CaseSpec(name=name, answers=answers, expect=ExpectSpec(outcome=SAFETY_OUTCOME, fired=[SAFETY_RULE_ID]))


#: Two adequate failed antidepressant trials in the current episode: treatment-resistant depression.
_TRD_TRIALS = example_document()["medication_trials"]

#: Cases run on every rule set, beside its own; a case passes when the outcome is ``safety``, the safety rule
#: fired, the locked notes are there and no rule raised. They vary what other rules read most.
ENGINE_CASES: tuple[CaseSpec, ...] = (
    _case("item 9 of 1 with everything else minimal", {"phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1]}),
    _case("item 9 of 2 with a severe PHQ-9", {"phq9": [3, 3, 3, 3, 3, 3, 3, 3, 2]}),
    _case(
        "item 9 of 3 with a contraindication and treatment-resistant depression",
        {"phq9": [3, 3, 3, 3, 3, 3, 3, 3, 3], "medical_history": ["psychosis"], "medication_trials": _TRD_TRIALS},
    ),
    _case("item 9 of 1 at age 18", {"age": 18, "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 1]}),
    _case("item 9 of 1 at age 90", {"age": 90, "phq9": [2, 2, 2, 2, 2, 2, 2, 2, 1]}),
    _case("item 9 of 1 in pregnancy", {"sex_at_birth": "female", "pregnancy": "yes", "phq9": [0] * 8 + [1]}),
)
