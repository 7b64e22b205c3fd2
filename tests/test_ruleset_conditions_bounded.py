"""Conditions may use only what evaluates in bounded time: no regular expressions, builtins or bit operations.

A regular expression such as ``^(\\w|\\w\\w|\\w+)*x$`` backtracks for hours on a short text, and
rule-engine evaluates an expression over literals while it compiles it: such conditions are refused
before they are compiled, at the operator, with a message saying what to write instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from screening.engine.compiler import COST_MAX
from screening.engine.compiler import ConditionError
from screening.engine.compiler import compile_condition
from screening.engine.compiler import worst_case_cost
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.model import RuleSetInvalid

from .ruleset_files import RULES
from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import position
from .ruleset_files import slow_condition

CATASTROPHIC = r'phq9_band =~ "^(\\w|\\w\\w|\\w+)*x$"'


def refused(text: str) -> ConditionError:
    """Return the error compiling ``text`` raises."""
    with pytest.raises(ConditionError) as raised:
        compile_condition(text)
    return raised.value


def test_catastrophic_regular_expression_is_refused_at_its_operator_in_the_file(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", f"when: 'trd and {CATASTROPHIC}'")
    line, column = position(rules / "candidates.yaml", "=~")
    with pytest.raises(RuleSetInvalid) as raised:
        load_ruleset(read_sources(rules))
    [error] = raised.value.errors
    assert (error.file, error.line, error.column, error.rule) == ("candidates.yaml", line, column, "candidate-trd")
    assert "regular expressions" in error.message
    assert "==" in error.message and "in [" in error.message and "fact" in error.message


@pytest.mark.parametrize("operator", ["=~", "=~~", "!~", "!~~"])
def test_every_regular_expression_operator_is_refused(operator: str) -> None:
    text = f'age > 1 and phq9_band {operator} "mild"'
    error = refused(text)
    assert error.offset == text.index(operator)
    assert f"'{operator}'" in error.message


def test_a_regular_expression_over_literals_is_refused_before_it_is_evaluated() -> None:
    # rule-engine would match this while compiling it (it folds literals): 16 letters take a second, 40 take hours.
    text = '"' + "a" * 16 + r'" =~ "^(\\w|\\w\\w|\\w+)*x$"'
    assert refused(text).offset == text.index("=~")


@pytest.mark.parametrize("operator", ["<<", ">>", "&", "|", "^"])
def test_bit_operators_are_refused(operator: str) -> None:
    # rule-engine folds (1 << 30000000) while compiling, into a number of nine million digits.
    text = f"age == 62 and (1 {operator} 30000000) > 0"
    error = refused(text)
    assert error.offset == text.index(operator)
    assert "not allowed" in error.message


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('$now > d"2020-01-01"', "$now"),
        ("$random() > 0.5", "$random"),
        ('age == 62 and $parse_datetime("2020-01-01") > $now', "$parse_datetime"),
        ("$abs(age) > 1", "$abs"),
    ],
)
def test_builtins_are_refused(text: str, name: str) -> None:
    error = refused(text)
    assert error.offset == text.index(name)
    assert f"'{name}'" in error.message and "facts" in error.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('phq9_band.ends_with("ere")', "ends_with"),
        ("phq9_band.to_int == 1", "to_int"),
        ('age > 1 and {"a": 1}["a"] == 1', "{"),
        ('age > 1 and b"x" == b"x"', 'b"x"'),
    ],
)
def test_unchecked_attributes_and_literals_are_refused(text: str, needle: str) -> None:
    error = refused(text)
    assert error.offset == text.index(needle)
    assert "not allowed" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "trd and phq9 >= 10",
        'pregnancy in ["yes", "possible"]',
        '"glaucoma" in medical_history',
        "contraindications.length > 0 and not foundations_never_tried.is_empty",
        '[code for code in diagnoses if code != "ibs"].length >= 2',
        "(phq9 + gad7) * 2 / 3 >= 10 - 1 and phq9 % 2 == 0 and -age < 0",
        'age >= 65 ? isi >= 15 : phq9_band.as_upper == "MILD"',
        'diagnoses[0] == "ibs" or diagnoses[1:].length > 0 or diagnoses.to_set.length > 1',
    ],
)
def test_bounded_conditions_compile(text: str) -> None:
    compile_condition(text)


def test_the_shipped_rules_use_nothing_refused() -> None:
    load_ruleset(read_sources(RULES))


def test_every_shipped_condition_is_far_below_the_cost_limit() -> None:
    costs = [
        worst_case_cost(rule.condition.rule.statement.expression) for rule in load_ruleset(read_sources(RULES)).rules
    ]
    assert max(costs) * 100 < COST_MAX


def test_a_condition_that_could_take_hours_for_some_patient_is_refused_before_it_is_evaluated() -> None:
    started = time.monotonic()
    with pytest.raises(ConditionError, match=r"could take up to [\d,]+ steps for one submission"):
        compile_condition(slow_condition("age == 62 and pain_duration_months == 7", depth=3))
    assert time.monotonic() - started < 5  # it would take minutes to evaluate once
    compile_condition(slow_condition("age == 62", depth=2))  # about a second: within the limit, left to the budget
