"""Loading rule files: every kind of mistake is reported at its exact file:line:col, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.loader import version_of
from screening.engine.model import RuleSetInvalid

from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import position


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    """Return a private copy of the shipped rules directory."""
    return copy_rules(tmp_path)


def errors_of(rules: Path) -> list[str]:
    """Load the directory and return its errors as strings (none expected to be missing)."""
    with pytest.raises(RuleSetInvalid) as raised:
        load_ruleset(read_sources(rules))
    return [str(error) for error in raised.value.errors]


def test_shipped_rules_load() -> None:
    ruleset = load_ruleset(read_sources(Path(__file__).resolve().parent.parent / "rules"))
    assert {rule.id for rule in ruleset.rules} >= {
        "safety-self-harm",
        "contraindication-history",
        "contraindication-pregnancy",
        "candidate-trd",
        "candidate-fibromyalgia-anxiety",
        "fibromyalgia-counseling",
        "fibromyalgia-criteria",
    }
    assert ruleset.version.startswith("sha256:") and len(ruleset.version) == 71


def test_unknown_fact_is_reported_at_its_column(rules: Path) -> None:
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    line, column = position(rules / "candidates.yaml", "phq9x")
    assert errors_of(rules) == [
        f"candidates.yaml:{line}:{column}: candidate-trd: unknown fact 'phq9x'; did you mean 'phq9'?"
    ]


def test_positions_count_characters_after_non_ascii_text(rules: Path) -> None:
    edit(rules / "candidates.yaml", "with PHQ-9 of 10", "with PHQ-9 of 10 (Café – naïve ✓ 😀)")
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", 'when: trd and "Café ✓ 😀" != "" and phq9x >= 10')
    line, column = position(rules / "candidates.yaml", "phq9x")
    assert errors_of(rules) == [
        f"candidates.yaml:{line}:{column}: candidate-trd: unknown fact 'phq9x'; did you mean 'phq9'?"
    ]


def test_type_mismatch_is_reported_at_the_literal(rules: Path) -> None:
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", 'when: trd and phq9 >= "15"')
    line, column = position(rules / "candidates.yaml", '"15"')
    assert errors_of(rules) == [
        f"candidates.yaml:{line}:{column}: candidate-trd: type mismatch: 'phq9' is a number but is compared with text \"15\""
    ]


def test_syntax_error_is_reported_at_the_token(rules: Path) -> None:
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and and phq9 >= 10")
    line, column = position(rules / "candidates.yaml", "and and")
    assert errors_of(rules) == [f"candidates.yaml:{line}:{column + 4}: candidate-trd: syntax error at 'and'"]


def test_syntax_error_at_the_end_is_reported_after_the_last_character(rules: Path) -> None:
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9 >=")
    line, column = position(rules / "candidates.yaml", "trd and phq9 >=")
    expected_column = column + len("trd and phq9 >=")
    assert errors_of(rules) == [
        f"candidates.yaml:{line}:{expected_column}: candidate-trd: syntax error: the condition ends too early"
    ]


def test_error_inside_a_folded_multi_line_condition(rules: Path) -> None:
    edit(rules / "fibromyalgia.yaml", "and not (gad7 >= 10", "and not (gad7x >= 10")
    line, column = position(rules / "fibromyalgia.yaml", "gad7x")
    assert errors_of(rules) == [
        f"fibromyalgia.yaml:{line}:{column}: fibromyalgia-counseling: unknown fact 'gad7x'; did you mean 'gad7'?"
    ]


def test_error_inside_a_quoted_condition(rules: Path) -> None:
    edit(
        rules / "flags.yaml", """when: '"glaucoma" in medical_history'""", """when: '"glaucoma" in medical_histories'"""
    )
    line, column = position(rules / "flags.yaml", "medical_histories")
    assert errors_of(rules) == [
        f"flags.yaml:{line}:{column}: flag-glaucoma: unknown fact 'medical_histories'; did you mean 'medical_history'?"
    ]


def test_unknown_outcome(rules: Path) -> None:
    edit(rules / "candidates.yaml", "outcome: candidate\n", "outcome: candidat\n")
    line, column = position(rules / "candidates.yaml", "candidat\n")
    assert f"candidates.yaml:{line}:{column}: candidate-trd: unknown outcome 'candidat'" in errors_of(rules)


def test_rule_may_not_produce_the_error_outcome(rules: Path) -> None:
    edit(rules / "candidates.yaml", "outcome: candidate\n", "outcome: manual_review\n")
    line, column = position(rules / "candidates.yaml", "manual_review")
    assert errors_of(rules) == [
        f"candidates.yaml:{line}:{column}: candidate-trd: 'manual_review' is kept for evaluation errors; no rule may produce it"
    ]


def test_duplicate_rule_id_across_files(rules: Path) -> None:
    edit(rules / "flags.yaml", "id: flag-glaucoma", "id: candidate-trd")
    line, column = position(rules / "flags.yaml", "candidate-trd")
    assert f"flags.yaml:{line}:{column}: candidate-trd: duplicate rule id (also in candidates.yaml)" in errors_of(rules)


def test_structure_errors_name_the_key(rules: Path) -> None:
    edit(
        rules / "flags.yaml",
        "    description: Glaucoma or raised eye pressure.\n",
        "    descripton: Glaucoma or raised eye pressure.\n",
    )
    line, column = position(rules / "flags.yaml", "descripton")
    found = errors_of(rules)
    assert f"flags.yaml:{line}:{column}: flag-glaucoma: unknown key 'descripton'" in found
    rule_line, rule_column = position(rules / "flags.yaml", "id: flag-glaucoma")
    assert f"flags.yaml:{rule_line}:{rule_column}: flag-glaucoma: 'description' is required" in found


def test_yaml_syntax_error(rules: Path) -> None:
    edit(rules / "flags.yaml", "  - id: flag-mania\n", "  - id: [flag-mania\n")
    found = errors_of(rules)
    assert len(found) == 1 and found[0].startswith("flags.yaml:") and ": -: YAML: " in found[0]


def test_duplicate_yaml_key(rules: Path) -> None:
    edit(rules / "tables/trd.yaml", "min_weeks: 6", "min_weeks: 6\nmin_weeks: 4")
    line, column = position(rules / "tables/trd.yaml", "min_weeks: 4")
    assert errors_of(rules) == [f"tables/trd.yaml:{line}:{column}: -: YAML: duplicate key 'min_weeks'"]


def test_table_values_are_checked(rules: Path) -> None:
    edit(rules / "tables/antidepressants.yaml", "sertraline: 50", "sertraline: -50")
    line, column = position(rules / "tables/antidepressants.yaml", "-50")
    assert errors_of(rules) == [f"tables/antidepressants.yaml:{line}:{column}: -: Input should be greater than 0"]


def test_test_case_expecting_an_unknown_rule(rules: Path) -> None:
    edit(rules / "flags.yaml", "fired: [flag-glaucoma]}", "fired: [flag-glaucomma]}")
    line, column = position(rules / "flags.yaml", "flag-glaucomma")
    assert errors_of(rules) == [f"flags.yaml:{line}:{column}: -: test 'glaucoma' expects unknown rule 'flag-glaucomma'"]


def test_all_errors_are_reported_at_once(rules: Path) -> None:
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    edit(rules / "flags.yaml", "when: age >= 65", 'when: age >= "65"')
    edit(rules / "contraindications.yaml", "outcome: contraindication_review", "outcome: contra")
    found = errors_of(rules)
    assert [error.split(":")[0] for error in found] == ["candidates.yaml", "contraindications.yaml", "flags.yaml"]


def test_version_is_the_hash_of_the_content(rules: Path) -> None:
    before = version_of(read_sources(rules))
    assert load_ruleset(read_sources(rules)).version == before
    edit(rules / "flags.yaml", "# Notes for the physician", "# Notes for the physician (edited)")
    assert version_of(read_sources(rules)) != before


# The locked safety rule --------------------------------------------------------------------------


def test_missing_safety_rule_is_refused(rules: Path) -> None:
    edit(rules / "safety.yaml", "id: safety-self-harm", "id: self-harm")
    found = errors_of(rules)
    assert "outcomes.yaml:1:1: safety-self-harm: the locked safety rule is missing" in found


@pytest.mark.parametrize(
    "weakened",
    ["phq9_item9 >= 2", "phq9_item9 >= 1 and phq9 >= 10", "phq9_item9 > 1", "false and phq9_item9 >= 1"],
)
def test_weakened_safety_rule_is_refused(rules: Path, weakened: str) -> None:
    edit(rules / "safety.yaml", "when: phq9_item9 >= 1", f"when: {weakened}")
    line, column = position(rules / "safety.yaml", weakened)
    assert (
        f"safety.yaml:{line}:{column}: safety-self-harm: the locked safety rule must read exactly 'phq9_item9 >= 1'"
        in errors_of(rules)
    )


def test_safety_rule_with_another_outcome_is_refused(rules: Path) -> None:
    edit(rules / "safety.yaml", "    outcome: safety\n", "    outcome: candidate\n")
    line, column = position(rules / "safety.yaml", "candidate\n")
    assert (
        f"safety.yaml:{line}:{column}: safety-self-harm: the locked safety rule must have outcome 'safety'"
        in errors_of(rules)
    )


def test_outranked_safety_outcome_is_refused(rules: Path) -> None:
    edit(rules / "outcomes.yaml", "rank: 80", "rank: 120")
    line, column = position(rules / "outcomes.yaml", "rank: 100")
    assert errors_of(rules) == [
        f"outcomes.yaml:{line}:{column}: safety-self-harm: 'safety' must have the highest rank and queue priority 1, ahead of every other"
    ]


def test_safety_outcome_must_come_first_in_the_queue(rules: Path) -> None:
    edit(rules / "outcomes.yaml", "priority: 2", "priority: 1")
    assert any(
        "'safety' must have the highest rank and queue priority 1, ahead of every other" in e for e in errors_of(rules)
    )


def test_safety_rule_with_spacing_changes_is_still_locked_in(rules: Path) -> None:
    edit(rules / "safety.yaml", "when: phq9_item9 >= 1", "when: '  phq9_item9   >=   1 '")
    ruleset = load_ruleset(read_sources(rules))
    [safety] = [rule for rule in ruleset.rules if rule.id == "safety-self-harm"]
    assert safety.outcome == "safety"
