"""Run the test cases written in the rule files, and the engine's own safety cases, which no file can remove.

Also probe the rules with generated answer documents: a rule that raises for any of them is reported at
its line, so a rule that fails only for some patients is found before it is published.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..errors import AnswersError
from ..fake import answers_documents
from ..instruments.scoring import score_answers
from .evaluation import Evaluation
from .evaluation import RuleFailed
from .evaluation import evaluate
from .evaluation import screen_answers
from .evaluation import screen_document
from .facts import FACT_TYPES
from .facts import derive_facts
from .model import Case
from .model import RuleError
from .model import RuleSet
from .safety import ENGINE_CASES
from .safety import ENGINE_CASES_FILE
from .safety import SAFETY_NOTES
from .safety import SAFETY_RULE_ID
from .spec import OUTCOMES_FILE

#: The engine's safety cases, as cases of a file of their own.
BUILT_IN_CASES = tuple(Case(spec, ENGINE_CASES_FILE, index, index + 1) for index, spec in enumerate(ENGINE_CASES))
#: How many generated answer documents every rule is probed with: every age the form accepts, each with and
#: without a risk of self-harm, in a realistic mix of everything else.
PROBE_SEED = 4711


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


def all_cases(ruleset: RuleSet) -> tuple[Case, ...]:
    """Return every test case of the rule set, in file order, then the engine's safety cases."""
    return (*ruleset.cases, *BUILT_IN_CASES)


#: Called around each evaluation with where it is written (file, line) and what it is: ``bounded_check`` times them.
Around = Callable[[str, int, str], AbstractContextManager[object]]


def _untimed(file: str, line: int, label: str) -> AbstractContextManager[object]:
    """Evaluate as is."""
    return nullcontext()


def run_cases(ruleset: RuleSet, *, around: Around = _untimed) -> list[CaseResult]:
    """Run every test case of the rule set and the engine's safety cases, each one evaluation."""
    results = []
    for case in all_cases(ruleset):
        with around(case.file, case.line, f"test '{case.spec.name}'"):
            results.append(run_case(ruleset, case))
    return results


def failures(results: list[CaseResult]) -> list[CaseResult]:
    """Return the results that did not pass."""
    return [result for result in results if not result.passed]


def run_case(ruleset: RuleSet, case: Case) -> CaseResult:
    """Evaluate one case and compare with its expectations."""
    try:
        evaluation = _evaluate_case(ruleset, case)
    except AnswersError as error:
        return CaseResult(case, (f"answers are not valid: {error}",), None)
    except (_BadFacts, RuleFailed) as error:
        return CaseResult(case, (str(error),), None)
    except Exception as error:  # noqa: BLE001 - rule text is untrusted: whatever it makes fail fails the case
        return CaseResult(case, (f"the rules could not be evaluated: {type(error).__name__}: {error}",), None)
    problems = [evaluation.error] if evaluation.error else []
    differences = _safety_differences(evaluation) if case.file == ENGINE_CASES_FILE else _differences(case, evaluation)
    return CaseResult(case, tuple(problems + differences), evaluation)


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
    except RuleFailed as failed:
        raise _BadFacts(f"facts could not be evaluated: {failed}") from None


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


def _safety_differences(evaluation: Evaluation) -> list[str]:
    """Return how an evaluation falls short of what the engine promises a safety case."""
    problems = []
    if evaluation.outcome != "safety" or evaluation.priority != 1:
        problems.append(f"outcome: expected safety at priority 1, got {evaluation.outcome} at {evaluation.priority}")
    if SAFETY_RULE_ID not in evaluation.fired_rules:
        problems.append(f"fired rules: {SAFETY_RULE_ID} did not fire")
    notes = {(note.audience, note.text) for note in evaluation.notes}
    if not all(note in notes for note in SAFETY_NOTES):
        problems.append("notes: the locked crisis and follow-up notes are missing")
    return problems


@cache
def probe_documents() -> tuple[tuple[dict[str, Any], dict[str, Any]], ...]:
    """Return the generated (answers, scores) pairs every rule is probed with, made once per process."""
    documents = []
    for index, document in enumerate(answers_documents(2 * 131, seed=PROBE_SEED)):
        item9 = 0 if index % 2 == 0 else 1 + (index // 2) % 3
        document = {**document, "age": index // 2, "phq9": [*document["phq9"][:8], item9]}
        documents.append((document, score_answers(document).as_dict()))
    return tuple(documents)


def probe(ruleset: RuleSet, *, around: Around = _untimed) -> list[RuleError]:
    """Return a problem at the condition of each rule that raises for a generated answers document."""
    problems: dict[str, RuleError] = {}
    for number, (document, scores) in enumerate(probe_documents(), start=1):
        with around(OUTCOMES_FILE, 1, f"generated answers document {number}"):
            _probe_document(ruleset, document, scores, problems)
    return sorted(problems.values())


def _probe_document(
    ruleset: RuleSet, document: dict[str, Any], scores: dict[str, Any], problems: dict[str, RuleError]
) -> None:
    """Evaluate every rule not yet in ``problems`` on one generated document, adding the rules that raise."""
    try:
        facts = derive_facts(document, scores, ruleset.tables)
    except Exception as error:  # noqa: BLE001 - tables that fail for a valid document are reported, not raised
        problems.setdefault(
            "-", RuleError("tables", 1, 1, "-", f"the tables fail for a valid answers document: {error}")
        )
        return
    for rule in ruleset.rules:
        if rule.id in problems:
            continue
        try:
            rule.condition.matches(facts)
        except Exception as error:  # noqa: BLE001 - any failure is reported at the rule
            read = ", ".join(f"{name} = {facts.get(name)!r}" for name in rule.condition.symbols)
            problems[rule.id] = RuleError(
                rule.file,
                rule.line,
                rule.column,
                rule.id,
                f"the condition raised {type(error).__name__} ({error}) for a valid answers document ({read});"
                " every condition must give true or false for every patient",
            )
