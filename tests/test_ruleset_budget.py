"""Untrusted rule text is evaluated in a child process, within a time and memory budget that names the rule.

Budgets are small here so that the tests stay fast; the conditions take far longer than them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from screening.engine import bounded_check
from screening.engine import bounded_child
from screening.engine import bounded_pool
from screening.engine import budget
from screening.engine.cases import run_cases
from screening.engine.compiler import Condition
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.active_rules.registry import RulesUnavailable
from screening.active_rules.registry import checked_ruleset
from screening.tuning import checks

from .ruleset_files import RULES
from .ruleset_files import SLOW_RULE
from .ruleset_files import add_flag
from .ruleset_files import big_condition
from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import slow_condition

QUICK = budget.Budget(evaluation_ms=100, check_seconds=10, dry_run_seconds=10, memory_mb=64)
SLOW_MESSAGE = f"{SLOW_RULE}: this condition took more than 100 ms for one submission; simplify it"


@pytest.fixture(autouse=True)
def quick_budget() -> Iterator[budget.Budget]:
    """Use QUICK where no budget is given; restore the default afterwards."""
    budget.configure(QUICK)
    yield QUICK
    budget.configure(budget.Budget())


def started_children() -> None:
    """Check the shipped rules once, so the process that starts the children runs before a timed check begins."""
    bounded_check.bounded_cases(load_ruleset(read_sources(RULES)))


def slow_rules(tmp_path: Path, condition: str) -> tuple[dict[str, str], tuple[int, int]]:
    """Return the shipped rules with ``condition`` in flags.yaml and a test case that makes it run."""
    rules = copy_rules(tmp_path)
    where = add_flag(rules / "flags.yaml", condition, tested_with_age=62)
    return read_sources(rules), where


def test_a_check_gives_the_same_results_as_evaluating_here() -> None:
    ruleset = load_ruleset(read_sources(RULES))
    results = bounded_check.bounded_cases(ruleset)
    assert [(r.case, r.problems) for r in results] == [(r.case, r.problems) for r in run_cases(ruleset)]
    assert results and all(result.passed for result in results)


def test_a_check_never_evaluates_a_condition_in_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "flags.yaml", "Aged 65 or over: less data", "Aged 65 or over: scarce data")  # a version not seen
    sources = read_sources(rules)

    def refuse(self: Condition, facts: dict[str, object]) -> bool:
        raise AssertionError("a condition was evaluated in the parent process")

    monkeypatch.setattr(Condition, "matches", refuse)
    check = checks.check_sources(sources, None)
    assert check.publishable and check.results and all(result.passed for result in check.results)


def test_a_slow_condition_is_an_error_at_its_line(tmp_path: Path) -> None:
    sources, (line, column) = slow_rules(tmp_path, slow_condition())
    started = time.monotonic()
    check = checks.check_sources(sources, None)
    assert time.monotonic() - started < 10  # the condition alone takes seconds; the budget is 100 ms
    assert [str(error) for error in check.errors] == [f"flags.yaml:{line}:{column}: {SLOW_MESSAGE}"]
    assert not check.publishable and check.problems == [f"flags.yaml:{line}:{column}: {SLOW_MESSAGE}"]


def test_the_registry_does_not_activate_a_version_with_a_slow_condition(tmp_path: Path) -> None:
    sources, (line, column) = slow_rules(tmp_path, slow_condition())
    with pytest.raises(RulesUnavailable) as raised:
        checked_ruleset(sources, prefix="rules/")
    assert raised.value.errors == [f"rules/flags.yaml:{line}:{column}: {SLOW_MESSAGE}"]


def test_the_registry_checks_again_a_version_whose_check_was_cut_short(tmp_path: Path) -> None:
    # Slow for every case, so time runs out inside it; and a version of its own (the registry keeps results).
    sources, (line, column) = slow_rules(tmp_path, slow_condition("age >= 1"))
    started_children()
    budget.configure(budget.Budget(evaluation_ms=600_000, check_seconds=3))
    with pytest.raises(RulesUnavailable) as raised:
        checked_ruleset(sources, prefix="rules/")
    assert "took more than 3 s in all" in raised.value.errors[0]
    budget.configure(QUICK)
    with pytest.raises(RulesUnavailable) as raised:
        checked_ruleset(sources, prefix="rules/")
    assert raised.value.errors == [f"rules/flags.yaml:{line}:{column}: {SLOW_MESSAGE}"]


def test_a_condition_that_could_take_hours_or_much_memory_is_refused_when_compiled(tmp_path: Path) -> None:
    for condition in (slow_condition(depth=3), big_condition()):
        sources, (line, _) = slow_rules(tmp_path / str(len(condition)), condition)
        started = time.monotonic()
        check = checks.check_sources(sources, None)
        assert time.monotonic() - started < 10
        [error] = check.errors
        assert (error.file, error.line, error.rule) == ("flags.yaml", line, SLOW_RULE)
        assert "steps for one submission (at most 200,000 are allowed)" in error.message


def test_a_check_over_its_total_time_is_stopped_naming_the_rule(tmp_path: Path) -> None:
    sources, (line, column) = slow_rules(
        tmp_path, slow_condition("age >= 0")
    )  # slow for every case: time runs out in it
    limits = budget.Budget(evaluation_ms=600_000, check_seconds=3)
    check = checks.check_sources(sources, None, limits=limits)
    assert [str(error) for error in check.errors] == [
        f"flags.yaml:{line}:{column}: {SLOW_RULE}: checking the rules took more than 3 s in all and was stopped "
        "while evaluating this condition; simplify it"
    ]


# --- The runner, with functions of this module ---------------------------------------------------------


WHERE = budget.Where("flags.yaml", 3, 11, "flag-test")


def sleep_while_evaluating(seconds: float) -> None:
    """Sleep inside one evaluation: no CPU time passes, so only the parent can stop it."""
    bounded_child.watch().rule(WHERE)
    with bounded_child.watch().evaluation():
        time.sleep(seconds)


def allocate(megabytes: int) -> int:
    """Allocate ``megabytes`` at once, inside one evaluation."""
    bounded_child.watch().rule(WHERE)
    with bounded_child.watch().evaluation():
        return len(bytearray(megabytes * 1024 * 1024))


def square(number: int) -> int:
    """Return number squared."""
    return number * number


def test_the_runner_returns_results_in_order_from_several_children() -> None:
    with bounded_pool.BoundedPool(2, seconds=10, doing="squaring", budget=QUICK) as pool:
        assert list(pool.map(square, range(7))) == [0, 1, 4, 9, 16, 25, 36]


def test_the_parent_kills_a_child_whose_evaluation_does_not_stop_and_names_its_rule() -> None:
    started = time.monotonic()
    with (
        pytest.raises(budget.Exceeded) as raised,
        bounded_pool.BoundedPool(1, seconds=30, doing="sleeping", budget=QUICK) as pool,
    ):
        list(pool.map(sleep_while_evaluating, [60]))
    assert time.monotonic() - started < 20
    assert (raised.value.kind, raised.value.where) == (budget.TIME, WHERE)
    assert (
        str(raised.value)
        == "flags.yaml:3:11: flag-test: this condition took more than 100 ms for one submission; simplify it"
    )


def test_the_memory_limit_is_reported_naming_the_rule() -> None:
    with (
        pytest.raises(budget.Exceeded) as raised,
        bounded_pool.BoundedPool(1, seconds=10, doing="allocating", budget=QUICK) as pool,
    ):
        list(pool.map(allocate, [1024]))
    assert (raised.value.kind, raised.value.where) == (budget.MEMORY, WHERE)
    with bounded_pool.BoundedPool(1, seconds=10, doing="allocating", budget=QUICK) as pool:
        assert list(pool.map(allocate, [8])) == [8 * 1024 * 1024]  # within the limit


def test_the_whole_run_is_stopped_at_its_wall_clock_limit() -> None:
    started = time.monotonic()
    with (
        pytest.raises(budget.Exceeded) as raised,
        bounded_pool.BoundedPool(1, seconds=1, doing="sleeping", budget=QUICK) as pool,
    ):
        list(pool.map(time.sleep, [60]))
    assert time.monotonic() - started < 15
    assert raised.value.kind == budget.TOTAL and str(raised.value) == "sleeping took more than 1 s in all"


def test_children_start_from_a_forkserver() -> None:
    assert bounded_pool.process_context().get_start_method() == "forkserver"
