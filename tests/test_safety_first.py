"""Safety is decided by the engine before and apart from every rule: no rule file can hide a safety patient.

Each attack below was publishable before: a rule that raises for some patients sent them to the error
outcome, which could be re-pointed at a parked outcome; the safety cases and texts lived only in files.
"""

from __future__ import annotations

import re
from datetime import datetime
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from screening.decisions import decide
from screening.instruments.scoring import score_answers
from screening.models import Submission
from screening.engine import cases
from screening.engine.dry_run import compare
from screening.engine.cases import probe
from screening.engine.cases import run_cases
from screening.engine.evaluation import RuleFailed
from screening.engine.evaluation import screen_answers
from screening.engine.facts import FACTS
from screening.engine.loader import Sources
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.model import RuleSet
from screening.engine.model import RuleSetInvalid
from screening.engine.safety import ENGINE_CASES_FILE
from screening.engine.safety import SAFETY_PATIENT_NOTE
from screening.tuning.checks import check_sources

from .ruleset_files import RULES

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SHIPPED = read_sources(RULES)
RAISES_FOR_47 = 'phq9_item9 >= 1 and age == 47 and diagnoses[99] == "x"'
PARKED = """
  parked:
    rank: 30
    priority: 99
    needs_action: false
    title: Parked
    message: Thank you.
"""


def with_rule(sources: Sources, when: str, *, outcome: str = "candidate", rule_id: str = "sneaky") -> Sources:
    """Return the sources with one more rule file holding a rule that proposes ``outcome`` when ``when``."""
    text = (
        f"rules:\n  - id: {rule_id}\n    description: Added by the test.\n    when: '{when}'\n    outcome: {outcome}\n"
    )
    return {**sources, "sneaky.yaml": text}


def error_parked(sources: Sources) -> Sources:
    """Return the sources with a parked outcome at priority 99 that the error outcome points at."""
    text = sources["outcomes.yaml"].replace("error: manual_review", "error: parked")
    return {**sources, "outcomes.yaml": text.rstrip("\n") + "\n" + PARKED}


def answers(ruleset: RuleSet, **changes: Any) -> dict[str, Any]:
    """Return the rule set's baseline answers with ``changes``."""
    return {**ruleset.baseline, **changes}


def submission_of(document: dict[str, Any]) -> Submission:
    """Return an unsaved submission of an answers document, as the intake stores one."""
    return Submission(id=1, answers=document, scores=score_answers(document).as_dict(), form_version="test")


def item9(value: int, others: int = 0) -> list[int]:
    """Return PHQ-9 answers with item 9 = ``value``."""
    return [others] * 8 + [value]


def test_the_reproduced_attack_cannot_be_published() -> None:
    sources = error_parked(with_rule(SHIPPED, RAISES_FOR_47))
    check = check_sources(sources, SHIPPED)
    assert not check.publishable
    assert any("the error outcome 'parked' must have needs_action: true" in problem for problem in check.problems)


def test_a_rule_that_raises_for_some_patients_is_reported_at_its_condition() -> None:
    sources = with_rule(SHIPPED, RAISES_FOR_47)
    check = check_sources(sources, SHIPPED)
    assert check.loads and not check.publishable
    [raised] = check.raised
    text = sources["sneaky.yaml"]
    line = text[: text.index("phq9_item9")].count("\n") + 1
    assert (raised.file, raised.line, raised.rule) == ("sneaky.yaml", line, "sneaky")
    assert "raised LookupError" in raised.message and "age = 47" in raised.message
    assert check.errors_in("sneaky.yaml")[line] == [raised]


def test_a_safety_patient_is_safety_even_when_another_rule_raises() -> None:
    ruleset = load_ruleset(with_rule(SHIPPED, RAISES_FOR_47))  # loads: only the check's probe finds it
    decision = decide(submission_of(answers(ruleset, age=47, phq9=item9(1))), ruleset, now=NOW)
    assert (decision.outcome, decision.priority, decision.needs_action) == ("safety", 1, True)
    assert decision.error is not None and "rule sneaky (sneaky.yaml:" in decision.error
    assert decision.notes[0] == {"rule": "safety-self-harm", "audience": "patient", "text": SAFETY_PATIENT_NOTE}


def test_an_evaluation_error_names_the_rule_and_needs_a_clinician() -> None:
    ruleset = load_ruleset(with_rule(SHIPPED, 'age == 47 and diagnoses[99] == "x"'))
    decision = decide(submission_of(answers(ruleset, age=47, phq9=item9(0))), ruleset, now=NOW)
    assert (decision.outcome, decision.priority, decision.needs_action) == ("manual_review", 4, True)
    assert decision.error is not None and decision.error.startswith("rule sneaky (sneaky.yaml:")
    with pytest.raises(RuleFailed, match="rule sneaky"):
        screen_answers(answers(ruleset, age=47, phq9=item9(0)), ruleset)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("error: manual_review", "error: counseling", "the error outcome 'counseling' must have needs_action: true"),
        ("title: Safety follow-up", "title: Follow-up", "the title of 'safety' must be 'Safety follow-up'"),
        (
            "Because of one of your\n      answers, please read the support information on this page now.",
            "There is nothing further you need to do.",
            "the patient message of 'safety' is locked",
        ),
        ("priority: 1\n", "priority: 2\n", "'safety' must have the highest rank and queue priority 1"),
    ],
    ids=["error-parked", "safety-title", "safety-message", "safety-priority"],
)
def test_the_outcomes_that_reach_a_safety_patient_are_locked(old: str, new: str, problem: str) -> None:
    assert old in SHIPPED["outcomes.yaml"]
    sources = {**SHIPPED, "outcomes.yaml": SHIPPED["outcomes.yaml"].replace(old, new, 1)}
    with pytest.raises(RuleSetInvalid) as raised:
        load_ruleset(sources)
    found = [error for error in raised.value.errors if problem in error.message]
    assert found and found[0].file == "outcomes.yaml" and found[0].line > 1


def test_the_safety_notes_are_locked() -> None:
    text = SHIPPED["safety.yaml"].replace("call or text 988", "call the clinic on Monday")
    with pytest.raises(RuleSetInvalid, match="notes of the locked safety rule"):
        load_ruleset({**SHIPPED, "safety.yaml": text})


def test_the_engine_runs_its_safety_cases_when_the_file_has_none() -> None:
    text = SHIPPED["safety.yaml"]
    without_tests = text[: text.index("\nshared:")] + "\n"
    ruleset = load_ruleset({**SHIPPED, "safety.yaml": without_tests})
    assert not [case for case in ruleset.cases if case.file == "safety.yaml"]
    results = run_cases(ruleset)
    built_in = [result for result in results if result.case.file == ENGINE_CASES_FILE]
    assert len(built_in) >= 5 and all(result.passed for result in built_in)


def test_the_engine_safety_cases_fail_a_rule_that_raises_for_safety_patients() -> None:
    ruleset = load_ruleset(with_rule(SHIPPED, 'phq9_item9 >= 1 and diagnoses[99] == "x"'))
    failed = [result for result in run_cases(ruleset) if not result.passed]
    assert len([result for result in failed if result.case.file == ENGINE_CASES_FILE]) == len(cases.BUILT_IN_CASES)
    assert all("rule sneaky" in result.problems[0] for result in failed)


def test_a_dry_run_shows_safety_where_another_rule_raises() -> None:
    candidate = load_ruleset(with_rule(SHIPPED, RAISES_FOR_47))
    active = load_ruleset(SHIPPED)
    document = answers(active, age=47, phq9=item9(1))
    row = ("REF-1", NOW, document, score_answers(document).as_dict())
    comparison = compare(candidate, active, [row])
    assert comparison.after == {"safety": 1} and comparison.errors_after == 1


def test_the_probe_covers_every_age_with_and_without_item9() -> None:
    documents = cases.probe_documents()
    ages = {document["age"] for document, _ in documents}
    assert ages == set(range(131))
    assert {document["age"] for document, _ in documents if document["phq9"][8] >= 1} == ages
    assert probe(load_ruleset(SHIPPED)) == []


# --- Any rule set that loads: a safety patient is safety, first in the queue ---------------------------------

NUMBER_FACTS = [fact.name for fact in FACTS if fact.type_name == "number"]
BOOLEAN_FACTS = [fact.name for fact in FACTS if fact.type_name == "boolean"]
OUTCOMES = ["contraindication_review", "candidate", "manual_review", "counseling", "not_candidate"]


@st.composite
def conditions(draw: st.DrawFn) -> str:
    """Return a condition within the grammar: comparisons and flags joined by and/or/not, some that raise."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["number", "boolean", "raises", "list"]))
        if kind == "number":
            op = draw(st.sampled_from(["==", "!=", ">=", "<=", ">", "<"]))
            parts.append(f"{draw(st.sampled_from(NUMBER_FACTS))} {op} {draw(st.integers(0, 130))}")
        elif kind == "boolean":
            parts.append(("not " if draw(st.booleans()) else "") + draw(st.sampled_from(BOOLEAN_FACTS)))
        elif kind == "raises":
            parts.append(f'diagnoses[{draw(st.integers(5, 99))}] == "x"')
        else:
            parts.append(f'"{draw(st.sampled_from(["psychosis", "bipolar", "glaucoma"]))}" in medical_history')
    joiner = draw(st.sampled_from([" and ", " or "]))
    return joiner.join(parts)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    """Return a rule set that loads: the shipped one with generated rules, outcomes and error outcome."""
    rules = []
    for index in range(draw(st.integers(1, 6))):
        outcome = draw(st.sampled_from(OUTCOMES[:1] + OUTCOMES[1:2] + OUTCOMES[3:]))
        rules.append(
            f"  - id: generated-{index}\n    description: Generated.\n"
            f"    when: '{draw(conditions())}'\n    outcome: {outcome}\n"
        )
    outcomes = SHIPPED["outcomes.yaml"]
    ranks = draw(st.permutations([80, 60, 40, 20, 10]))
    for name, rank in zip(OUTCOMES, ranks, strict=True):
        outcomes = re.sub(rf"(  {name}:\n    rank: )\d+", rf"\g<1>{rank}", outcomes)
    sources = {**SHIPPED, "outcomes.yaml": outcomes, "generated.yaml": "rules:\n" + "".join(rules)}
    return load_ruleset(sources)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(ruleset=rule_sets(), item9_value=st.integers(1, 3), age=st.integers(0, 130), others=st.integers(0, 3))
def test_every_safety_patient_is_safety_whatever_the_rules(
    ruleset: RuleSet, item9_value: int, age: int, others: int
) -> None:
    document = answers(ruleset, age=age, phq9=item9(item9_value, others))
    decision = decide(submission_of(document), ruleset, now=NOW)
    assert (decision.outcome, decision.priority, decision.needs_action) == ("safety", 1, True)
    assert decision.notes[0]["text"] == SAFETY_PATIENT_NOTE


def test_the_shipped_rules_pass_the_check_with_the_engine_cases() -> None:
    check = check_sources(SHIPPED, SHIPPED)
    assert check.publishable, check.problems
    assert sum(result.case.file == ENGINE_CASES_FILE for result in check.results) == len(cases.BUILT_IN_CASES)
