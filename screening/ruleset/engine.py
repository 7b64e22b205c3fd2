"""Evaluate a rule set: the highest-ranked outcome of the rules that fire, and all their notes.

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
from .facts import derive_facts
from .facts import trial_assessments
from .model import RuleSet

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


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation and how it was reached."""

    outcome: str
    priority: int
    fired: tuple[FiredRule, ...]
    notes: tuple[Note, ...]
    ruleset_version: str

    @property
    def fired_rules(self) -> list[str]:
        """Return the ids of the rules that fired, in rule order."""
        return [fired.rule for fired in self.fired]


def evaluate(ruleset: RuleSet, facts: dict[str, Any]) -> Evaluation:
    """Evaluate every rule against ``facts``; the highest-ranked proposed outcome wins."""
    fired = [rule for rule in ruleset.rules if rule.condition.matches(facts)]
    proposed = [rule.outcome for rule in fired if rule.outcome is not None]
    outcome = max(proposed, key=ruleset.rank) if proposed else ruleset.default_outcome
    return Evaluation(
        outcome=outcome,
        priority=ruleset.outcomes[outcome].priority,
        fired=tuple(
            FiredRule(rule.id, rule.description, rule.outcome, {name: facts[name] for name in rule.condition.symbols})
            for rule in fired
        ),
        notes=tuple(Note(rule.id, note.audience, note.text) for rule in fired for note in rule.notes),
        ruleset_version=ruleset.version,
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


def screen_answers(answers: Mapping[str, Any], ruleset: RuleSet, scores: Mapping[str, Any] | None = None) -> Screening:
    """Score (unless ``scores`` are given), derive facts and evaluate a validated answers document."""
    document = dict(answers)
    scores = dict(scores) if scores is not None else score_answers(document).as_dict()
    facts = derive_facts(document, scores, ruleset.tables)
    trials = trial_assessments(document, ruleset.tables)
    return Screening(document, scores, facts, trials, evaluate(ruleset, facts))


def screen_document(data: object, ruleset: RuleSet) -> Screening:
    """Validate an answers document (raising AnswersError naming the field), then screen it."""
    return screen_answers(parse_answers(data).to_document(), ruleset)
