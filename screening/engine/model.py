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

#: The rule id of a problem that is in no rule (a whole file, the outcomes, a test case).
NO_RULE = "-"


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
    #: Where the condition is written: 1-based line and column of its ``when`` value.
    line: int = 1
    column: int = 1

    @property
    def where(self) -> str:
        """Return ``file:line:col`` of the rule's condition."""
        return f"{self.file}:{self.line}:{self.column}"


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
