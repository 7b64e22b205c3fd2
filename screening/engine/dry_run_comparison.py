"""What a dry run found: counts per outcome, transitions and changed submissions, mergeable and storable.

A ``Comparison`` covers a dry run or one chunk of it; chunks merge into the whole. Each ``Change``
names a submission whose outcome would change, with the rules (``RuleRef``) and facts that explain
it. Answers and notes are never copied into a comparison. ``as_dict``/``from_dict`` give the
JSON-able form kept in ``BacktestRun.result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

#: At most this many changed submissions are kept in a comparison; the true count is kept too.
CHANGES_LIMIT = 10_000


@dataclass(frozen=True)
class RuleRef:
    """A rule that fired, with the outcome it proposed (None for a rule that only adds notes)."""

    rule: str
    outcome: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the reference as JSON-able data."""
        return {"rule": self.rule, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleRef:
        """Read a reference written by ``as_dict``."""
        return cls(str(data["rule"]), data.get("outcome"))


@dataclass(frozen=True)
class Change:
    """A submission whose outcome would change, and why: rules, fact values, never answers or notes.

    ``rules_before`` fired only with the version compared against (or proposed another outcome
    there), ``rules_after`` only with the candidate. ``facts`` holds the values those rules read;
    ``facts_changed`` the facts whose value differs (only when the clinical tables differ).
    ``error_before``/``error_after`` name the kind of error when an evaluation failed.
    """

    reference: str
    submitted_at: str
    before: str
    after: str
    rules_before: tuple[RuleRef, ...] = ()
    rules_after: tuple[RuleRef, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    facts_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error_before: str | None = None
    error_after: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the change as JSON-able data."""
        return {
            "reference": self.reference,
            "submitted_at": self.submitted_at,
            "before": self.before,
            "after": self.after,
            "rules_before": [rule.as_dict() for rule in self.rules_before],
            "rules_after": [rule.as_dict() for rule in self.rules_after],
            "facts": dict(self.facts),
            "facts_changed": {name: list(values) for name, values in self.facts_changed.items()},
            "error_before": self.error_before,
            "error_after": self.error_after,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Read a change written by ``as_dict``."""
        return cls(
            reference=str(data["reference"]),
            submitted_at=str(data.get("submitted_at", "")),
            before=str(data["before"]),
            after=str(data["after"]),
            rules_before=tuple(RuleRef.from_dict(rule) for rule in data.get("rules_before", ())),
            rules_after=tuple(RuleRef.from_dict(rule) for rule in data.get("rules_after", ())),
            facts=dict(data.get("facts", {})),
            facts_changed={name: (pair[0], pair[1]) for name, pair in data.get("facts_changed", {}).items()},
            error_before=data.get("error_before"),
            error_after=data.get("error_after"),
        )


@dataclass(frozen=True)
class Comparison:
    """Counts, transitions and changed submissions of a dry run (or of one chunk of it).

    ``outcomes`` lists every outcome, highest rank of the candidate first. ``transitions`` counts
    every (before, after) pair, unchanged ones included. ``changes`` keeps the first
    ``CHANGES_LIMIT`` changed submissions; ``changed_total`` counts them all.
    """

    candidate_version: str
    against_version: str
    outcomes: tuple[str, ...]
    total: int = 0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)
    errors_before: int = 0
    errors_after: int = 0
    changed_total: int = 0
    changes: tuple[Change, ...] = ()

    @property
    def truncated(self) -> bool:
        """Return True when more submissions changed than the list keeps."""
        return self.changed_total > len(self.changes)

    def merge(self, other: Comparison) -> Comparison:
        """Return the comparison of both parts; ``other``'s changes come after this one's."""
        if (self.candidate_version, self.against_version) != (other.candidate_version, other.against_version):
            raise ValueError("only comparisons of the same two rule set versions can be merged")
        outcomes = self.outcomes + tuple(o for o in other.outcomes if o not in self.outcomes)
        return replace(
            self,
            outcomes=outcomes,
            total=self.total + other.total,
            before=_added(self.before, other.before),
            after=_added(self.after, other.after),
            transitions=_added(self.transitions, other.transitions),
            errors_before=self.errors_before + other.errors_before,
            errors_after=self.errors_after + other.errors_after,
            changed_total=self.changed_total + other.changed_total,
            changes=(self.changes + other.changes)[:CHANGES_LIMIT],
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-able data (for ``BacktestRun.result``)."""
        return {
            "candidate_version": self.candidate_version,
            "against_version": self.against_version,
            "outcomes": list(self.outcomes),
            "total": self.total,
            "before": dict(self.before),
            "after": dict(self.after),
            "transitions": [[before, after, count] for (before, after), count in self.transitions.items()],
            "errors_before": self.errors_before,
            "errors_after": self.errors_after,
            "changed_total": self.changed_total,
            "changes": [change.as_dict() for change in self.changes],
            "changes_limit": CHANGES_LIMIT,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Read a comparison written by ``as_dict``."""
        return cls(
            candidate_version=str(data["candidate_version"]),
            against_version=str(data["against_version"]),
            outcomes=tuple(data["outcomes"]),
            total=int(data["total"]),
            before={str(k): int(v) for k, v in data["before"].items()},
            after={str(k): int(v) for k, v in data["after"].items()},
            transitions={(str(b), str(a)): int(n) for b, a, n in data["transitions"]},
            errors_before=int(data.get("errors_before", 0)),
            errors_after=int(data.get("errors_after", 0)),
            changed_total=int(data["changed_total"]),
            changes=tuple(Change.from_dict(change) for change in data["changes"]),
        )


def _added(first: Mapping[Any, int], second: Mapping[Any, int]) -> dict[Any, int]:
    """Return the sum of two count mappings, keeping the order of first appearance."""
    total = dict(first)
    for key, count in second.items():
        total[key] = total.get(key, 0) + count
    return total
