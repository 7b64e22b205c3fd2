"""Dry run of a rule set against stored submissions: what would change if it were active.

Pure domain logic: no Flask, no database. Each stored submission (reference, submitted time,
canonical answers, scores) is evaluated with the candidate rule set and with the version it is
compared with ("against"). The result is a mergeable ``Comparison`` (``dry_run_comparison``): counts
per outcome before and after, every (before, after) transition, and the submissions whose outcome
would change, with the rules and facts that explain it. Answers and notes are never copied into a
comparison.

Evaluating is done once where the two rule sets agree: facts are derived once when both use the
same clinical tables, and every distinct condition text is evaluated once per submission, all of
them by one plain Python function (``native.batch_function``). A condition rule-engine decides (the
translation does not cover it) has its result remembered by the values of the facts it reads (a
condition is a pure function of those values); remembering costs more than deciding a translated one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Callable

from . import bounded_child
from . import dry_run_comparison
from .compiler import Condition
from .dry_run_comparison import Change
from .dry_run_comparison import Comparison
from .dry_run_comparison import RuleRef
from .facts import derive_facts
from .model import Rule
from .model import RuleSet
from .native import BatchFunction
from .native import batch_function
from .safety import SAFETY_OUTCOME
from .safety import at_risk
from .safety import item9_of

#: A condition remembers at most this many distinct inputs (the memory of one run stays small).
MEMO_LIMIT = 200_000
#: One stored submission: (reference, submitted_at, answers, scores, context facts such as ``in_service_area``).
#: A row without the last item (a submission stored before context facts existed) has none.
StoredRow = (
    tuple[str, datetime, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]
    | tuple[str, datetime, Mapping[str, Any], Mapping[str, Any]]
)


def outcome_order(candidate: RuleSet, against: RuleSet) -> tuple[str, ...]:
    """Return every outcome of both rule sets: the candidate's by rank, then those only ``against`` has."""
    ranked = sorted(candidate.outcomes, key=lambda name: -candidate.rank(name))
    extra = sorted(
        (name for name in against.outcomes if name not in candidate.outcomes), key=lambda n: -against.rank(n)
    )
    return tuple(ranked + extra)


class _Failed:
    """The result of a condition that raised, with the kind of error."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


def _frozen(value: Any) -> Any:
    """Return a hashable stand-in for a fact value that also tells its type (True is not 1)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return (list, tuple(_frozen(item) for item in value))
    return (kind, value)


class _ConditionTable:
    """Every distinct condition of both rule sets, decided together for one set of facts.

    All of them are decided by one plain Python function (``native.batch_function``) where it answers;
    otherwise (it raises: a fact of another type, a condition that raises) each one on its own, its result
    remembered by the values of the facts it reads (a condition is a pure function of those values).
    """

    def __init__(self, conditions: Iterable[Condition]) -> None:
        self.texts: list[str] = []
        self._conditions: list[Condition] = []
        self._entries: list[tuple[Callable[[dict[str, Any]], Any], tuple[str, ...], dict[Any, bool] | None]] = []
        self.index: dict[str, int] = {}
        self._batch: BatchFunction | None = None
        for condition in conditions:
            if condition.text in self.index:
                continue
            self.index[condition.text] = len(self.texts)
            self.texts.append(condition.text)
            self._conditions.append(condition)
            # "$" names rule-engine builtins such as $now: the result may not depend on the facts alone.
            memo: dict[Any, bool] | None = None if "$" in condition.text else {}
            self._entries.append((condition.matches, condition.symbols, memo))

    def evaluate(self, facts: dict[str, Any]) -> list[bool | _Failed]:
        """Return, for each condition in order, whether it holds for ``facts`` (or how it failed)."""
        if self._batch is None:
            self._batch = self._compile()
        try:
            return self._batch(facts)  # type: ignore[return-value]
        except Exception:  # noqa: BLE001 - each condition on its own says which one failed, and how
            return self._one_by_one(facts)

    def _compile(self) -> BatchFunction:
        """Return the batch function of the conditions, each rule-engine one remembering its results."""
        conditions = self._conditions
        batch = batch_function([(c.rule.statement.expression, self._remembered(i)) for i, c in enumerate(conditions)])
        bounded_child.label_batch(batch, [getattr(condition, "where", None) for condition in conditions])
        return batch

    def _remembered(self, position: int) -> Callable[[dict[str, Any]], bool]:
        """Return condition ``position`` deciding by its remembered results; raise as it does."""

        def decide(facts: dict[str, Any]) -> bool:
            result = self._decide(position, facts)
            if isinstance(result, _Failed):
                raise _Raised()
            return result

        return decide

    def _one_by_one(self, facts: dict[str, Any]) -> list[bool | _Failed]:
        """Return each condition's result, deciding them one by one (a list that may hold failures)."""
        return _OneByOne(self._decide(position, facts) for position in range(len(self._entries)))

    def _decide(self, position: int, facts: dict[str, Any]) -> bool | _Failed:
        """Return whether condition ``position`` holds for ``facts`` (or how it failed), remembered by input."""
        matches, symbols, memo = self._entries[position]
        try:
            if memo is None:
                return bool(matches(facts))
            key = tuple([_frozen(facts[name]) for name in symbols])
            found = memo.get(key)
            if found is None:
                found = bool(matches(facts))
                if len(memo) < MEMO_LIMIT:
                    memo[key] = found
            return found
        except Exception as error:  # noqa: BLE001 - a failing condition gives the error outcome
            return _Failed(type(error).__name__)


class _OneByOne(list[bool | _Failed]):
    """Results decided one by one: some may be failures."""


class _Raised(Exception):
    """A condition decided on its own raised: the batch leaves every condition to ``_one_by_one``."""


@dataclass(frozen=True)
class _Verdict:
    """One rule set's evaluation of one submission: the outcome, the rules that fired, or the error."""

    outcome: str
    fired: tuple[Rule, ...]
    error: str | None = None


class _Side:
    """One rule set, with each rule pointing at its condition in the shared table."""

    def __init__(self, ruleset: RuleSet, table: _ConditionTable) -> None:
        self.ruleset = ruleset
        self.rules = [(rule, table.index[rule.condition.text]) for rule in ruleset.rules]

    def verdict(self, results: Sequence[bool | _Failed] | _Failed, item9: object) -> _Verdict:
        """Return the outcome as ``engine.evaluate`` decides it: safety first, else the highest-ranked one wins."""
        fired: list[Rule] = []
        failure = results.kind if isinstance(results, _Failed) else None
        if type(results) is list:  # decided together: every result is True or False
            fired = [rule for rule, position in self.rules if results[position]]
        elif not isinstance(results, _Failed):
            for rule, position in self.rules:
                result = results[position]
                if isinstance(result, _Failed):
                    failure = failure or result.kind
                elif result:
                    fired.append(rule)
        if at_risk(item9):
            return _Verdict(SAFETY_OUTCOME, tuple(fired), failure)
        if failure is not None:
            return self.failed(failure)
        proposed = [rule.outcome for rule in fired if rule.outcome is not None]
        outcome = max(proposed, key=self.ruleset.rank) if proposed else self.ruleset.default_outcome
        return _Verdict(outcome, tuple(fired))

    def failed(self, kind: str) -> _Verdict:
        """Return the verdict of an evaluation that raised: the rule set's error outcome."""
        return _Verdict(self.ruleset.error_outcome, (), kind)


class Backtest:
    """Compares two rule sets over stored submissions; keep one per run so remembered results are reused."""

    def __init__(self, candidate: RuleSet, against: RuleSet) -> None:
        self.candidate = candidate
        self.against = against
        self.same_tables = candidate.tables == against.tables
        self.outcomes = outcome_order(candidate, against)
        self._table = _ConditionTable(rule.condition for rule in (*against.rules, *candidate.rules))
        self._before = _Side(against, self._table)
        self._after = _Side(candidate, self._table)

    def empty(self) -> Comparison:
        """Return the comparison of no submissions."""
        return Comparison(self.candidate.version, self.against.version, self.outcomes)

    def compare(self, rows: Iterable[StoredRow]) -> Comparison:
        """Evaluate every row with both rule sets and return the comparison."""
        before: Counter[str] = Counter()
        after: Counter[str] = Counter()
        transitions: Counter[tuple[str, str]] = Counter()
        errors_before = errors_after = changed_total = total = 0
        changes: list[Change] = []
        for reference, submitted_at, answers, scores, *context in rows:
            total += 1
            old, new, old_facts, new_facts = self._evaluate(answers, scores, context[0] if context else None)
            before[old.outcome] += 1
            after[new.outcome] += 1
            transitions[(old.outcome, new.outcome)] += 1
            errors_before += old.error is not None
            errors_after += new.error is not None
            if old.outcome != new.outcome:
                changed_total += 1
                if len(changes) < dry_run_comparison.CHANGES_LIMIT:
                    changes.append(_change(reference, submitted_at, old, new, old_facts, new_facts))
        return Comparison(
            candidate_version=self.candidate.version,
            against_version=self.against.version,
            outcomes=self.outcomes,
            total=total,
            before=dict(before),
            after=dict(after),
            transitions=dict(transitions),
            errors_before=errors_before,
            errors_after=errors_after,
            changed_total=changed_total,
            changes=tuple(changes),
        )

    def _evaluate(
        self, answers: Mapping[str, Any], scores: Mapping[str, Any], context: Mapping[str, Any] | None
    ) -> tuple[_Verdict, _Verdict, dict[str, Any], dict[str, Any]]:
        """Return both verdicts of one submission and the facts each was reached with."""
        old_facts = _facts(answers, scores, context, self.against)
        new_facts = old_facts if self.same_tables else _facts(answers, scores, context, self.candidate)
        old_results = self._results(old_facts)
        new_results = old_results if new_facts is old_facts else self._results(new_facts)
        item9 = item9_of(answers)
        return (
            self._before.verdict(old_results, item9),
            self._after.verdict(new_results, item9),
            _or_empty(old_facts),
            _or_empty(new_facts),
        )

    def _results(self, facts: dict[str, Any] | _Failed) -> list[bool | _Failed] | _Failed:
        """Return the result of every condition, or the failure that kept the facts from being derived."""
        return facts if isinstance(facts, _Failed) else self._table.evaluate(facts)


def compare(candidate: RuleSet, against: RuleSet, rows: Iterable[StoredRow]) -> Comparison:
    """Evaluate ``rows`` with ``candidate`` and with ``against`` and compare the outcomes."""
    return Backtest(candidate, against).compare(rows)


def _facts(
    answers: Mapping[str, Any], scores: Mapping[str, Any], context: Mapping[str, Any] | None, ruleset: RuleSet
) -> dict[str, Any] | _Failed:
    """Derive the facts of a stored submission, or say how that failed (broken stored data)."""
    try:
        return derive_facts(answers, scores, ruleset.tables, context)
    except Exception as error:  # noqa: BLE001 - a submission that cannot be evaluated gets the error outcome
        return _Failed(type(error).__name__)


def _or_empty(facts: dict[str, Any] | _Failed) -> dict[str, Any]:
    """Return the facts, or none when they could not be derived."""
    return {} if isinstance(facts, _Failed) else facts


def _change(
    reference: str,
    submitted_at: datetime,
    old: _Verdict,
    new: _Verdict,
    old_facts: dict[str, Any],
    new_facts: dict[str, Any],
) -> Change:
    """Describe a changed outcome: the rules that fired on one side only, and the facts behind them."""
    old_refs = [RuleRef(rule.id, rule.outcome) for rule in old.fired]
    new_refs = [RuleRef(rule.id, rule.outcome) for rule in new.fired]
    only_before = [rule for rule, ref in zip(old.fired, old_refs, strict=True) if ref not in new_refs]
    only_after = [rule for rule, ref in zip(new.fired, new_refs, strict=True) if ref not in old_refs]
    facts: dict[str, Any] = {}
    for rules, values in ((only_before, old_facts), (only_after, new_facts)):
        for rule in rules:
            for name in rule.condition.symbols:
                facts.setdefault(name, values.get(name))
    changed = {
        name: (old_facts.get(name), new_facts.get(name))
        for name in dict.fromkeys([*old_facts, *new_facts])
        if old_facts.get(name) != new_facts.get(name)
    }
    return Change(
        reference=reference,
        submitted_at=submitted_at.isoformat(timespec="seconds") if submitted_at else "",
        before=old.outcome,
        after=new.outcome,
        rules_before=tuple(RuleRef(rule.id, rule.outcome) for rule in only_before),
        rules_after=tuple(RuleRef(rule.id, rule.outcome) for rule in only_after),
        facts=facts,
        facts_changed=changed if old_facts and new_facts else {},
        error_before=old.error,
        error_after=new.error,
    )
