"""Check a rule set as publishing would: load it, run its tests and probe in a bounded child, compare safety.

The one place a draft (or files from the command line) is checked; nothing here writes to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import orm

from ..models import RuleDraft
from ..engine import bounded_check
from ..engine import budget
from ..active_rules import store
from ..engine.cases import CaseResult
from ..engine.loader import Sources
from ..engine.loader import load_ruleset
from ..engine.model import RuleError
from ..engine.model import RuleSet
from ..engine.model import RuleSetInvalid
from ..engine.safety import SAFETY_OUTCOME
from ..engine.safety import SAFETY_RULE_ID


@dataclass(frozen=True)
class Check:
    """A draft checked as publishing would check it: load errors, test results, safety-lock problems."""

    errors: list[RuleError]
    results: list[CaseResult]
    safety: list[str]
    ruleset: RuleSet | None = None
    #: Rules that raised for a generated answers document, at their condition.
    raised: list[RuleError] = field(default_factory=list)
    #: Problems found, each as one line, in the order a reader fixes them.
    problems: list[str] = field(default_factory=list)

    @property
    def loads(self) -> bool:
        """Return True when the rule set loads without errors."""
        return self.ruleset is not None

    @property
    def failed(self) -> list[CaseResult]:
        """Return the test cases that failed."""
        return [result for result in self.results if not result.passed]

    @property
    def publishable(self) -> bool:
        """Return True when the draft loads, passes all its tests, raises for nobody and leaves safety alone."""
        return self.loads and not self.failed and not self.safety and not self.raised

    def errors_in(self, name: str) -> dict[int, list[RuleError]]:
        """Return the load errors of one file, by line."""
        lines: dict[int, list[RuleError]] = {}
        for error in (*self.errors, *self.raised):
            if error.file == name:
                lines.setdefault(error.line, []).append(error)
        return lines


def check_sources(sources: Sources, active_sources: Sources | None, *, limits: budget.Budget | None = None) -> Check:
    """Load, test and compare a rule set with the active one; never raises for bad rules.

    The test cases (the files' and the engine's safety cases) and the probe with generated answers run in a
    child process within ``limits`` (the process's configured budget by default): a rule that goes over it is a
    load error at its line, so the draft cannot be published.
    """
    try:
        ruleset = load_ruleset(sources)
    except RuleSetInvalid as invalid:
        return Check(errors=invalid.errors, results=[], safety=[], problems=[str(e) for e in invalid.errors])
    try:
        untrusted = bounded_check.evaluate_bounded(ruleset.sources, budget=limits)
    except budget.Exceeded as exceeded:
        error = exceeded.rule_error()
        return Check(errors=[error], results=[], safety=[], problems=[str(error)])
    results, raised = list(untrusted.cases), list(untrusted.raised)
    safety = safety_changes(_loaded(active_sources), ruleset) if active_sources is not None else []
    problems = [
        f"{r.where}: test '{r.case.spec.name}' failed: {'; '.join(r.problems)}" for r in results if not r.passed
    ]
    return Check(
        errors=[],
        results=results,
        safety=safety,
        ruleset=ruleset,
        problems=safety + [str(error) for error in raised] + problems,
        raised=raised,
    )


def _loaded(sources: Sources) -> RuleSet | None:
    """Return the rule set of stored sources, or None if they no longer load."""
    try:
        return load_ruleset(sources)
    except RuleSetInvalid:
        return None


def safety_changes(active: RuleSet | None, candidate: RuleSet) -> list[str]:
    """Return how ``candidate`` changes the locked safety rule or the safety outcome's place, if at all."""
    if active is None:
        return []
    problems = []
    before = _safety_rule(active)
    after = _safety_rule(candidate)
    if before != after:
        where = _rule_where(candidate)
        problems.append(f"{where}: {SAFETY_RULE_ID}: the locked safety rule cannot be changed by a draft")
    old, new = active.outcomes.get(SAFETY_OUTCOME), candidate.outcomes.get(SAFETY_OUTCOME)
    if old is not None and (
        new is None or (old.rank, old.priority, old.needs_action) != (new.rank, new.priority, new.needs_action)
    ):
        problems.append(
            f"outcomes.yaml: {SAFETY_OUTCOME}: the rank, priority and needs_action of the safety outcome "
            "cannot be changed by a draft"
        )
    return problems


def _safety_rule(ruleset: RuleSet) -> tuple[object, ...] | None:
    """Return everything about the safety rule that a draft must leave alone."""
    for rule in ruleset.rules:
        if rule.id == SAFETY_RULE_ID:
            return (rule.description, " ".join(rule.condition.text.split()), rule.outcome, rule.notes)
    return None


def _rule_where(ruleset: RuleSet) -> str:
    """Return the file the safety rule is in."""
    return next((rule.file for rule in ruleset.rules if rule.id == SAFETY_RULE_ID), "safety.yaml")


def check_draft(session: orm.Session, draft: RuleDraft) -> Check:
    """Check a draft against the active version."""
    current = store.active(session)
    return check_sources(dict(draft.sources), dict(current.version.sources) if current else None)
