"""The clinic's default policy (DESIGN.md) through ``flask screen``, with the shipped rule files."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from flask.testing import FlaskCliRunner

from screening.vocabulary import MEDICAL_HISTORY

from .patient import FIBROMYALGIA
from .ruleset_files import RULES

BASELINE: dict[str, Any] = yaml.safe_load((RULES / "baseline.yaml").read_text())
DEPRESSED = {"phq9": [2, 2, 2, 1, 1, 1, 1, 0, 0]}  # PHQ-9 of 10


def trial(
    drug: str, dose: float, weeks: float = 12, improvement: int = 10, current: bool = True, stopped: bool = False
) -> dict[str, Any]:
    """Return one medication trial."""
    return {
        "drug": drug,
        "dose_mg_per_day": dose,
        "weeks": weeks,
        "improvement_pct": improvement,
        "current_episode": current,
        "stopped_early": stopped,
    }


SERTRALINE = trial("sertraline", 100)
TRD = {"medication_trials": [SERTRALINE, trial("duloxetine", 60, weeks=8, improvement=20)]}
HARD_STOPS = [
    "ketamine_reaction",
    "aneurysm_or_brain_bleed",
    "heart_disease_unstable",
    "hypertension_uncontrolled",
    "psychosis",
    "ketamine_misuse",
    "substance_use_active",
    "liver_disease_severe",
    "intracranial_pressure",
]
FLAGS_ONLY = sorted(set(MEDICAL_HISTORY) - set(HARD_STOPS))


def second_trial(**changes: Any) -> dict[str, Any]:
    """Return a depressed patient with sertraline plus one more trial."""
    return {**DEPRESSED, "medication_trials": [SERTRALINE, trial(**changes)]}


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("nothing reported", {}, "not_candidate"),
    ("item 9 alone", {"phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1]}, "safety"),
    (
        "item 9 over a contraindication and TRD",
        {"phq9": [2, 2, 2, 2, 2, 2, 2, 2, 3], "medical_history": ["psychosis"], **TRD},
        "safety",
    ),
    ("fibromyalgia alone", FIBROMYALGIA, "counseling"),
    ("fibromyalgia with TRD", {**FIBROMYALGIA, **DEPRESSED, **TRD}, "candidate"),
    ("TRD without fibromyalgia", {**DEPRESSED, **TRD}, "candidate"),
    ("TRD with PHQ-9 of 9", {"phq9": [2, 2, 2, 1, 1, 1, 0, 0, 0], **TRD}, "not_candidate"),
    (
        "fibromyalgia with treatment-resistant anxiety",
        {**FIBROMYALGIA, "gad7": [2, 2, 2, 1, 1, 1, 1], **TRD},
        "candidate",
    ),
    (
        "fibromyalgia with TRD but pregnant",
        {**FIBROMYALGIA, **DEPRESSED, **TRD, "pregnancy": "yes"},
        "contraindication_review",
    ),
    ("possibly pregnant", {"pregnancy": "possible"}, "contraindication_review"),
    ("same drug twice counts once", second_trial(drug="sertraline", dose=200, improvement=0), "not_candidate"),
    (
        "exactly 50% improvement is a response",
        second_trial(drug="duloxetine", dose=60, improvement=50),
        "not_candidate",
    ),
    ("49% improvement is a failure", second_trial(drug="duloxetine", dose=60, improvement=49), "candidate"),
    ("dose exactly at the minimum", second_trial(drug="escitalopram", dose=10, improvement=0), "candidate"),
    ("dose just under the minimum", second_trial(drug="escitalopram", dose=9.9, improvement=0), "not_candidate"),
    ("exactly 6 weeks", second_trial(drug="escitalopram", dose=20, weeks=6, improvement=0), "candidate"),
    ("5 weeks", second_trial(drug="escitalopram", dose=20, weeks=5, improvement=0), "not_candidate"),
    (
        "low-dose amitriptyline for pain",
        second_trial(drug="amitriptyline", dose=25, weeks=52, improvement=0),
        "not_candidate",
    ),
    ("antidepressant-dose amitriptyline", second_trial(drug="amitriptyline", dose=150, improvement=0), "candidate"),
    ("a trial in a previous episode", second_trial(drug="duloxetine", dose=60, current=False), "not_candidate"),
    ("stopped early for side effects", second_trial(drug="duloxetine", dose=60, stopped=True), "not_candidate"),
    ("a drug not in the table", second_trial(drug="pregabalin", dose=450, improvement=0), "not_candidate"),
    ("an unlisted drug typed in", second_trial(drug="agomelatine", dose=50, improvement=0), "not_candidate"),
    *[(f"contraindication {code}", {"medical_history": [code]}, "contraindication_review") for code in HARD_STOPS],
    *[(f"flag only {code}", {"medical_history": [code]}, "not_candidate") for code in FLAGS_ONLY],
    (
        "every current medicine class is a flag only",
        {"current_medications": ["maoi", "stimulant", "benzodiazepine", "opioid"]},
        "not_candidate",
    ),
    ("age 70 is a flag only", {"age": 70}, "not_candidate"),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Screen every case in one ``flask screen`` call and return its results by case name."""
    from .conftest import make_app
    from screening import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('policy') / 'policy.sqlite3'}"
    migrate.upgrade(url)
    runner: FlaskCliRunner = make_app(url).test_cli_runner()
    documents = [{**copy.deepcopy(BASELINE), **changes} for _, changes, _ in CASES]
    result = runner.invoke(args=["screen", "-"], input=json.dumps(documents))
    assert result.exit_code == 0, result.output
    return {name: output for (name, _, _), output in zip(CASES, json.loads(result.output), strict=True)}


@pytest.mark.parametrize(("name", "expected"), [(name, expected) for name, _, expected in CASES])
def test_default_policy(outcomes: dict[str, dict[str, Any]], name: str, expected: str) -> None:
    assert outcomes[name]["outcome"] == expected, outcomes[name]["fired_rules"]


def test_safety_is_never_hidden_by_other_rules(outcomes: dict[str, dict[str, Any]]) -> None:
    result = outcomes["item 9 over a contraindication and TRD"]
    assert result["priority"] == 1
    assert {"safety-self-harm", "contraindication-history", "candidate-trd"} <= set(result["fired_rules"])
    assert any("988" in note["text"] and note["audience"] == "patient" for note in result["notes"])


def test_trd_counts_are_reported(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcomes["same drug twice counts once"]["scores"]["adequate_failed_trials"] == 1
    assert outcomes["dose exactly at the minimum"]["scores"]["adequate_failed_trials"] == 2
    assert outcomes["fibromyalgia with TRD"]["facts"]["trd"] is True


def test_counseling_note_is_candid(outcomes: dict[str, dict[str, Any]]) -> None:
    [note] = [n["text"] for n in outcomes["fibromyalgia alone"]["notes"] if n["audience"] == "patient"]
    assert "preliminary" in note and "short-lived" in note
    assert "Graded exercise" in note and "sleep treatment" in note and "cognitive behavioural therapy" in note
