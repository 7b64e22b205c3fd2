"""The locks on a rule set's copy of the safety rule and outcome, and on its ``error:`` outcome.

The engine decides safety itself (``safety``); the files still spell the safety rule and outcome out, and
``check_safety_lock`` refuses a rule set whose copy differs from the engine's, or whose error outcome could
park a submission the rules failed on. The loader calls it once every rule file is compiled.
"""

from __future__ import annotations

from typing import Protocol

from .model import NO_RULE
from .model import Rule
from .model import RuleError
from .safety import ERROR_PRIORITY_AT_MOST
from .safety import SAFETY_CONDITION
from .safety import SAFETY_MESSAGE
from .safety import SAFETY_NOTES
from .safety import SAFETY_OUTCOME
from .safety import SAFETY_PRIORITY
from .safety import SAFETY_RULE_ID
from .safety import SAFETY_TITLE
from .safety import same_text
from .spec import OUTCOMES_FILE
from .spec import OutcomesSpec


class Recorder(Protocol):
    """Where the lock records what it refuses: the loader's list of errors, and its positioned ``error``."""

    errors: list[RuleError]

    def error(self, file: str, path: tuple[str | int, ...], rule: str, message: str, *, at_key: bool = False) -> None:
        """Record an error at the value found at ``path`` in ``file``."""


def check_safety_lock(loader: Recorder, rules: list[Rule], outcomes: OutcomesSpec) -> None:
    """Refuse a rule set whose copy of the safety rule or outcome differs from the engine's, or that lets an error
    outrank nothing: the engine decides safety itself, and the files must say what it does."""
    safety = [rule for rule in rules if rule.id == SAFETY_RULE_ID]
    if not safety:
        loader.errors.append(RuleError(OUTCOMES_FILE, 1, 1, SAFETY_RULE_ID, "the locked safety rule is missing"))
    for rule in safety:
        _check_safety_rule(loader, rule)
    _check_safety_outcome(loader, outcomes)
    _check_error_outcome(loader, outcomes)


def _check_safety_rule(loader: Recorder, rule: Rule) -> None:
    """Record each way the file's safety rule differs from the engine's."""
    where = ("rules", rule.index)
    if " ".join(rule.condition.text.split()) != SAFETY_CONDITION:
        loader.error(
            rule.file, (*where, "when"), rule.id, f"the locked safety rule must read exactly '{SAFETY_CONDITION}'"
        )
    if rule.outcome != SAFETY_OUTCOME:
        loader.error(
            rule.file, (*where, "outcome"), rule.id, f"the locked safety rule must have outcome '{SAFETY_OUTCOME}'"
        )
    notes = [(note.audience, note.text) for note in rule.notes]
    if len(notes) != len(SAFETY_NOTES) or not all(
        audience == locked_audience and same_text(text, locked_text)
        for (audience, text), (locked_audience, locked_text) in zip(notes, SAFETY_NOTES, strict=False)
    ):
        loader.error(
            rule.file,
            (*where, "notes"),
            rule.id,
            "the notes of the locked safety rule (the crisis resources for the patient, the same-day follow-up for "
            "the physician) cannot be changed",
        )


def _check_safety_outcome(loader: Recorder, outcomes: OutcomesSpec) -> None:
    """Record each way the safety outcome differs from the engine's: first in rank and queue, its words fixed."""
    top = outcomes.outcomes.get(SAFETY_OUTCOME)
    if top is None:
        loader.error(OUTCOMES_FILE, ("outcomes",), SAFETY_RULE_ID, f"outcome '{SAFETY_OUTCOME}' must be declared")
        return
    where = ("outcomes", SAFETY_OUTCOME)
    others = [spec for name, spec in outcomes.outcomes.items() if name != SAFETY_OUTCOME]
    if top.priority != SAFETY_PRIORITY or any(
        spec.rank >= top.rank or spec.priority <= top.priority for spec in others
    ):
        loader.error(
            OUTCOMES_FILE,
            where,
            SAFETY_RULE_ID,
            f"'{SAFETY_OUTCOME}' must have the highest rank and queue priority {SAFETY_PRIORITY}, ahead of every other",
        )
    if not top.needs_action:
        loader.error(
            OUTCOMES_FILE, (*where, "needs_action"), SAFETY_RULE_ID, f"'{SAFETY_OUTCOME}' must have needs_action: true"
        )
    if not same_text(top.title, SAFETY_TITLE):
        loader.error(
            OUTCOMES_FILE,
            (*where, "title"),
            SAFETY_RULE_ID,
            f"the title of '{SAFETY_OUTCOME}' must be {SAFETY_TITLE!r}",
        )
    if not same_text(top.message, SAFETY_MESSAGE):
        loader.error(
            OUTCOMES_FILE,
            (*where, "message"),
            SAFETY_RULE_ID,
            f"the patient message of '{SAFETY_OUTCOME}' is locked: it must read {SAFETY_MESSAGE!r}",
        )


def _check_error_outcome(loader: Recorder, outcomes: OutcomesSpec) -> None:
    """Record an ``error:`` outcome that could park a submission the rules failed on."""
    spec = outcomes.outcomes.get(outcomes.error)
    if spec is None:
        return  # reported by the structure check
    if not spec.needs_action or spec.priority > ERROR_PRIORITY_AT_MOST:
        loader.error(
            OUTCOMES_FILE,
            ("error",),
            NO_RULE,
            f"the error outcome '{outcomes.error}' must have needs_action: true and a queue priority of "
            f"{ERROR_PRIORITY_AT_MOST} or less (a submission the rules failed on must reach a clinician)",
        )
