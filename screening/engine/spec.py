"""The structure of the files in rules/, checked with pydantic before any condition is compiled."""

from __future__ import annotations

from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import model_validator

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
OutcomeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]

#: Files with a fixed role; every other .yaml file in rules/ is a rule file.
OUTCOMES_FILE = "outcomes.yaml"
BASELINE_FILE = "baseline.yaml"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoteSpec(_Spec):
    """A note a rule adds when it fires, addressed to the patient or to the physician."""

    audience: Literal["patient", "physician"]
    text: Text


class RuleSpec(_Spec):
    """One rule: when its condition holds it proposes an outcome and/or adds notes."""

    id: RuleId
    description: Text
    when: Annotated[str, Field(min_length=1, max_length=2000)]
    outcome: OutcomeName | None = None
    notes: list[NoteSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _outcome_or_notes(self) -> RuleSpec:
        """Refuse a rule that would do nothing when it fires."""
        if self.outcome is None and not self.notes:
            raise ValueError("a rule needs an outcome, notes, or both")
        return self


class ExpectSpec(_Spec):
    """What a test case expects: the outcome, exactly which rules fire, and text the notes contain."""

    outcome: OutcomeName
    fired: list[RuleId]
    notes: list[Text] = Field(default_factory=list)


class CaseSpec(_Spec):
    """A test case: changes to the baseline answers, or to the facts derived from them."""

    name: Text
    answers: dict[str, Any] | None = None
    facts: dict[str, Any] | None = None
    expect: ExpectSpec

    @model_validator(mode="after")
    def _one_input(self) -> CaseSpec:
        """Refuse a case that changes both answers and facts: facts would hide the answers."""
        if self.answers is not None and self.facts is not None:
            raise ValueError("give either answers or facts, not both")
        return self


class RuleFileSpec(_Spec):
    """A rule file: its rules and the test cases that prove them.

    ``shared`` holds YAML anchors that test cases reuse (``&trd`` ... ``*trd``); it is not read.
    """

    shared: dict[str, Any] | None = None
    rules: list[RuleSpec] = Field(default_factory=list)
    tests: list[CaseSpec] = Field(default_factory=list)


class OutcomeSpec(_Spec):
    """An outcome: how it ranks against others, and how the review queue treats it."""

    rank: Annotated[int, Field(ge=0, le=1000)]
    priority: Annotated[int, Field(ge=1, le=100)]
    needs_action: bool
    title: Text
    message: Text


class OutcomesSpec(_Spec):
    """The outcome vocabulary, the outcome when no rule decides, and the outcome of a failure."""

    default: OutcomeName
    error: OutcomeName
    outcomes: dict[OutcomeName, OutcomeSpec]

    @model_validator(mode="after")
    def _known(self) -> OutcomesSpec:
        """Require the default and error outcomes to be declared."""
        for role in ("default", "error"):
            if getattr(self, role) not in self.outcomes:
                raise ValueError(f"{role} outcome '{getattr(self, role)}' is not declared under outcomes")
        return self
