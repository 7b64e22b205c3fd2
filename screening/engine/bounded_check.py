"""What a check evaluates of untrusted rule text: its test cases and the probe, in a bounded child.

``evaluate_untrusted`` is the one function that evaluates the untrusted part of a check; extend
it (and ``Untrusted``) for anything else a check must evaluate. ``evaluate_bounded`` runs it in a
child of ``bounded_pool`` within the check's budget and keeps the results of checks that went
through.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass

from .bounded_child import watch
from .bounded_child import watched
from .bounded_pool import BoundedPool
from .bounded_pool import preload
from .budget import Budget
from .budget import Where
from .budget import configured
from .cases import CaseResult
from .cases import probe
from .cases import run_cases
from .loader import Sources
from .loader import load_ruleset
from .loader import version_of
from .model import RuleError
from .model import RuleSet

preload(__name__)  # what every check's child runs, with the rule engine it imports


@dataclass(frozen=True)
class Untrusted:
    """What evaluating the rule text of a check found; plain data, so it crosses from the child to the parent."""

    cases: tuple[CaseResult, ...] = ()
    #: Rules that raised for a generated answers document, at their condition.
    raised: tuple[RuleError, ...] = ()


def evaluate_untrusted(sources: Sources) -> Untrusted:
    """Evaluate everything of a check that runs conditions: the test cases, then the probe with generated answers.

    Runs in a bounded child (``evaluate_bounded``); each test case and each probe document is one evaluation.
    Anything else a check must evaluate belongs here, with its result added to ``Untrusted``.
    """
    ruleset = watched(load_ruleset(sources))
    return Untrusted(cases=tuple(run_cases(ruleset, around=_timed)), raised=tuple(probe(ruleset, around=_timed)))


def _timed(file: str, line: int, label: str) -> AbstractContextManager[object]:
    """Record what is evaluated (until a condition takes over), and time it as one evaluation."""
    current = watch()
    current.rule(Where(file, line, 1, label))
    return current.evaluation()


#: Results of checks that went through, by version and budget: a condition reads only facts (no builtins), so
#: the same files give the same results, and a page shown after a save does not evaluate them again.
_KEPT = 32
_kept: OrderedDict[tuple[str, Budget], Untrusted] = OrderedDict()
_kept_lock = threading.Lock()


def evaluate_bounded(sources: Sources, *, budget: Budget | None = None) -> Untrusted:
    """Run ``evaluate_untrusted(sources)`` in a child within the check's budget; raise Exceeded naming the rule."""
    budget = budget or configured()
    key = (version_of(sources), budget)
    with _kept_lock:
        found = _kept.get(key)
    if found is not None:
        return found
    with BoundedPool(1, seconds=budget.check_seconds, doing="checking the rules", budget=budget) as pool:
        found = next(iter(pool.map(evaluate_untrusted, [sources])))
    with _kept_lock:
        _kept[key] = found
        while len(_kept) > _KEPT:
            _kept.popitem(last=False)
    return found


def bounded_cases(ruleset: RuleSet, *, budget: Budget | None = None) -> list[CaseResult]:
    """Return the results of the rule set's test cases, evaluated in a bounded child; raise Exceeded."""
    return list(evaluate_bounded(ruleset.sources, budget=budget).cases)
