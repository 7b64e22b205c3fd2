"""Evaluate a rule set: the highest-ranked outcome of the rules that fire, and all their notes.

Safety comes first and apart (``safety``): a submission with PHQ-9 item 9 above 0 is ``safety`` at
queue priority 1 with the locked notes, whatever the other rules propose and also when one of them
raises. Otherwise a rule that raises fails the whole evaluation with ``RuleFailed``, naming the rule,
and the caller records the error outcome.

Also the whole screening pipeline for one answers document: validate, score, derive
facts, evaluate. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Mapping

import rule_engine

from ..answers import parse_answers
from ..instruments.scoring import score_answers
from .compiler import Condition
from .facts import derive_facts
from .facts import trial_assessments
from .model import Rule
from .model import RuleSet
from .native import BatchFunction
from .native import batch_function
from .safety import SAFETY_NOTES
from .safety import SAFETY_OUTCOME
from .safety import SAFETY_PRIORITY
from .safety import SAFETY_RULE_ID
from .safety import at_risk

#: Names the code that turns facts into a decision; stored with every decision.
ENGINE_VERSION = f"screening-rules/1 (rule-engine {rule_engine.__version__})"


@dataclass(frozen=True)
class Note:
    """A note from a rule that fired."""

    rule: str
    audience: str
    text: str

    def as_dict(self) -> dict[str, str]:
        """Return the note as JSON-able data."""
        return {"rule": self.rule, "audience": self.audience, "text": self.text}


@dataclass(frozen=True)
class FiredRule:
    """A rule that fired, with the fact values its condition read."""

    rule: str
    description: str
    outcome: str | None
    facts: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the trace entry as JSON-able data."""
        return {"rule": self.rule, "description": self.description, "outcome": self.outcome, "facts": self.facts}


class RuleFailed(Exception):
    """A rule's condition raised while it was evaluated; the message names the rule and where it is written."""

    def __init__(self, rule: Rule, error: Exception) -> None:
        super().__init__(f"rule {rule.id} ({rule.where}) raised {type(error).__name__}: {error}"[:1000])
        self.rule = rule
        self.kind = type(error).__name__


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation and how it was reached.

    ``error`` says which rule raised, on a safety evaluation that was decided regardless.
    """

    outcome: str
    priority: int
    fired: tuple[FiredRule, ...]
    notes: tuple[Note, ...]
    ruleset_version: str
    error: str | None = None

    @property
    def fired_rules(self) -> list[str]:
        """Return the ids of the rules that fired, in rule order."""
        return [fired.rule for fired in self.fired]


def evaluate(ruleset: RuleSet, facts: dict[str, Any]) -> Evaluation:
    """Evaluate every rule against ``facts``: safety first, else the highest-ranked proposed outcome wins.

    Raises RuleFailed when a rule raises, unless the facts show a risk of self-harm.
    """
    fired, failure = fire(ruleset, facts)
    if at_risk(facts.get("phq9_item9")):
        return safety_evaluation(ruleset, facts, fired, str(failure) if failure else None)
    if failure is not None:
        raise failure
    proposed = [rule.outcome for rule in fired if rule.outcome is not None]
    outcome = max(proposed, key=ruleset.rank) if proposed else ruleset.default_outcome
    notes = _prepared(ruleset.rules).notes
    return Evaluation(
        outcome=outcome,
        priority=ruleset.outcomes[outcome].priority,
        fired=tuple(_fired(rule, facts) for rule in fired),
        notes=tuple(note for rule in fired for note in notes[rule.id]),
        ruleset_version=ruleset.version,
    )


@dataclass(frozen=True)
class _Prepared:
    """What evaluating a rule set needs beyond its rules, made once per rule set (and process).

    ``decide`` is every condition as one plain Python function (``native.batch_function``); it is None
    where conditions record their rule while evaluated (``bounded_child.watched``), so that a condition
    stopped by the evaluation budget is still named.
    """

    rules: tuple[Rule, ...]
    decide: BatchFunction | None
    notes: dict[str, tuple[Note, ...]]


_PREPARED_MAX = 16
_prepared_cache: dict[int, _Prepared] = {}


def _prepared(rules: tuple[Rule, ...]) -> _Prepared:
    """Return the prepared form of ``rules``, kept by the identity of the tuple (held, so the id stays its own)."""
    found = _prepared_cache.get(id(rules))
    if found is not None and found.rules is rules:
        return found
    plain = all(type(rule.condition) is Condition for rule in rules)
    conditions = [(rule.condition.rule.statement.expression, rule.condition.matches) for rule in rules]
    prepared = _Prepared(
        rules,
        batch_function(conditions) if plain else None,
        {rule.id: tuple(Note(rule.id, note.audience, note.text) for note in rule.notes) for rule in rules},
    )
    if len(_prepared_cache) >= _PREPARED_MAX:
        _prepared_cache.pop(next(iter(_prepared_cache)))
    _prepared_cache[id(rules)] = prepared
    return prepared


def fire(ruleset: RuleSet, facts: dict[str, Any]) -> tuple[list[Rule], RuleFailed | None]:
    """Return the rules whose condition holds, in rule order, and the first rule that raised (if any)."""
    decide = _prepared(ruleset.rules).decide
    if decide is not None:
        try:
            results = decide(facts)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001, S110 - each rule is evaluated on its own below, naming what raised
            pass
        else:
            return [rule for rule, result in zip(ruleset.rules, results, strict=True) if result], None
    fired: list[Rule] = []
    failure: RuleFailed | None = None
    for rule in ruleset.rules:
        try:
            matched = rule.condition.matches(facts)
        except Exception as error:  # noqa: BLE001 - any failure of a rule is reported with the rule's name
            failure = failure or RuleFailed(rule, error)
            continue
        if matched:
            fired.append(rule)
    return fired, failure


def safety_evaluation(
    ruleset: RuleSet | None, facts: dict[str, Any], fired: list[Rule], error: str | None = None
) -> Evaluation:
    """Return the engine's safety decision: ``safety``, first in the queue, the locked notes, then other notes.

    The other rules that fired are kept (their notes may help the physician); the file's copy of the safety
    rule adds nothing, as the engine's own notes stand in for it.
    """
    others = [rule for rule in fired if rule.id != SAFETY_RULE_ID]
    safety_rule = FiredRule(
        SAFETY_RULE_ID,
        _safety_description(ruleset),
        SAFETY_OUTCOME,
        {"phq9_item9": facts.get("phq9_item9")},
    )
    return Evaluation(
        outcome=SAFETY_OUTCOME,
        priority=SAFETY_PRIORITY,
        fired=(safety_rule, *(_fired(rule, facts) for rule in others)),
        notes=(
            *(Note(SAFETY_RULE_ID, audience, text) for audience, text in SAFETY_NOTES),
            *(Note(rule.id, note.audience, note.text) for rule in others for note in rule.notes),
        ),
        ruleset_version=ruleset.version if ruleset is not None else "",
        error=error,
    )


def _safety_description(ruleset: RuleSet | None) -> str:
    """Return the description the rule files give the safety rule."""
    rules = ruleset.rules if ruleset is not None else ()
    return next((rule.description for rule in rules if rule.id == SAFETY_RULE_ID), "PHQ-9 item 9 above 0.")


def _fired(rule: Rule, facts: dict[str, Any]) -> FiredRule:
    """Return the trace entry of a rule that fired, with the fact values its condition read."""
    return FiredRule(
        rule.id, rule.description, rule.outcome, {name: facts.get(name) for name in rule.condition.symbols}
    )


@dataclass(frozen=True)
class Screening:
    """A screened answers document: scores, facts, trial assessments and the evaluation."""

    answers: dict[str, Any]
    scores: dict[str, Any]
    facts: dict[str, Any]
    trials: list[dict[str, Any]]
    evaluation: Evaluation

    def as_result(self) -> dict[str, Any]:
        """Return the result printed by ``flask screen``."""
        evaluation = self.evaluation
        return {
            "scores": {**self.scores, "adequate_failed_trials": self.facts["adequate_failed_trials"]},
            "facts": self.facts,
            "outcome": evaluation.outcome,
            "priority": evaluation.priority,
            "fired_rules": evaluation.fired_rules,
            "notes": [note.as_dict() for note in evaluation.notes],
            "ruleset_version": evaluation.ruleset_version,
        }


def screen_answers(
    answers: Mapping[str, Any],
    ruleset: RuleSet,
    scores: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Screening:
    """Score (unless ``scores`` are given), derive facts (with ``context``) and evaluate a validated document."""
    document = dict(answers)
    scores = dict(scores) if scores is not None else score_answers(document).as_dict()
    facts = derive_facts(document, scores, ruleset.tables, context)
    trials = trial_assessments(document, ruleset.tables)
    return Screening(document, scores, facts, trials, evaluate(ruleset, facts))


def screen_document(data: object, ruleset: RuleSet) -> Screening:
    """Validate an answers document (raising AnswersError naming the field), then screen it."""
    return screen_answers(parse_answers(data).to_document(), ruleset)
