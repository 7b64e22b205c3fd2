"""A loaded rule set and the errors that keep one from loading."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .compiler import Condition
from .spec import CaseSpec
from .spec import NoteSpec
from .spec import OutcomeSpec
from .tables import Tables

#: The locked safety rule: it must be present exactly like this, with the top-ranked outcome.
SAFETY_RULE_ID = "safety-self-harm"
SAFETY_CONDITION = "phq9_item9 >= 1"
SAFETY_OUTCOME = "safety"


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in the rule files, reported as ``file:line:col: rule-id: message``."""

    file: str
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """A compiled rule."""

    id: str
    description: str
    condition: Condition
    outcome: str | None
    notes: tuple[NoteSpec, ...]
    file: str
    index: int


@dataclass(frozen=True)
class Case:
    """A test case and the file it is written in."""

    spec: CaseSpec
    file: str
    index: int
    line: int


@dataclass(frozen=True)
class RuleSet:
    """Everything needed to decide an outcome: rules, outcomes, tables, and their test cases."""

    version: str
    sources: dict[str, str]
    rules: tuple[Rule, ...]
    outcomes: dict[str, OutcomeSpec]
    default_outcome: str
    error_outcome: str
    tables: Tables
    baseline: dict[str, Any]
    cases: tuple[Case, ...] = field(default=())

    def rank(self, outcome: str) -> int:
        """Return how strongly an outcome takes precedence."""
        return self.outcomes[outcome].rank


class RuleSetInvalid(Exception):
    """The rule files could not be loaded; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = sorted(errors)
