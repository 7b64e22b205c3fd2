"""Run the test cases written in the rule files."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AnswersError
from .engine import Evaluation
from .engine import evaluate
from .engine import screen_answers
from .engine import screen_document
from .facts import FACT_TYPES
from .model import Case
from .model import RuleSet


@dataclass(frozen=True)
class CaseResult:
    """The result of one test case: what was expected, what happened, and what differs."""

    case: Case
    problems: tuple[str, ...]
    evaluation: Evaluation | None

    @property
    def passed(self) -> bool:
        """Return True when the case got what it expected."""
        return not self.problems

    @property
    def where(self) -> str:
        """Return ``file:line`` of the case."""
        return f"{self.case.file}:{self.case.line}"


def run_cases(ruleset: RuleSet) -> list[CaseResult]:
    """Run every test case of the rule set, in file order."""
    return [run_case(ruleset, case) for case in ruleset.cases]


def failures(results: list[CaseResult]) -> list[CaseResult]:
    """Return the results that did not pass."""
    return [result for result in results if not result.passed]


def run_case(ruleset: RuleSet, case: Case) -> CaseResult:
    """Evaluate one case and compare with its expectations."""
    try:
        evaluation = _evaluate_case(ruleset, case)
    except AnswersError as error:
        return CaseResult(case, (f"answers are not valid: {error}",), None)
    except _BadFacts as error:
        return CaseResult(case, (str(error),), None)
    return CaseResult(case, tuple(_differences(case, evaluation)), evaluation)


class _BadFacts(Exception):
    """A case changes facts that do not exist or gives them the wrong type."""


def _evaluate_case(ruleset: RuleSet, case: Case) -> Evaluation:
    """Return the evaluation of a case's answers or facts."""
    spec = case.spec
    if spec.facts is None:
        return screen_document({**ruleset.baseline, **(spec.answers or {})}, ruleset).evaluation
    facts = dict(screen_answers(ruleset.baseline, ruleset).facts)
    for name, value in spec.facts.items():
        if name not in FACT_TYPES:
            raise _BadFacts(f"unknown fact '{name}'")
        facts[name] = value
    try:
        return evaluate(ruleset, facts)
    except Exception as error:  # noqa: BLE001 - a wrongly typed fact value fails the case, not the loader
        raise _BadFacts(f"facts could not be evaluated: {error}") from None


def _differences(case: Case, evaluation: Evaluation) -> list[str]:
    """Return how the evaluation differs from the expectation."""
    expect = case.spec.expect
    problems = []
    if evaluation.outcome != expect.outcome:
        problems.append(f"outcome: expected {expect.outcome}, got {evaluation.outcome}")
    if sorted(evaluation.fired_rules) != sorted(expect.fired):
        problems.append(f"fired rules: expected {sorted(expect.fired)}, got {sorted(evaluation.fired_rules)}")
    texts = [note.text for note in evaluation.notes]
    for fragment in expect.notes:
        if not any(fragment in text for text in texts):
            problems.append(f"notes: no note contains {fragment!r}")
    return problems
