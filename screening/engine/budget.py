"""Evaluate untrusted rule text in child processes, within a time and memory budget.

Rule conditions are written by staff on a live system, so any text a draft, a check or a dry run
evaluates is untrusted: a condition that is legal but slow (a comprehension over a long array
inside another) must not hold a web worker or the task consumer, and must be named to the person
who wrote it. The parent process may parse and compile rule text; everything that evaluates
conditions runs here, in a child process started from a "forkserver" (never forked from a threaded
web worker holding database connections), with the rule engine already imported in it:

- each evaluation (one rule set on one answers document) has ``evaluation_ms`` of CPU time, after
  which a timer in the child stops it inside the condition being evaluated;
- the child's address space may grow ``memory_mb`` above its size at start;
- a check has ``check_seconds`` and a dry run ``dry_run_seconds`` of wall-clock time in all.

The child records which rule it is evaluating in memory the parent reads, so the parent can name
the rule even when it has to kill the child (at the wall-clock limit, or when an evaluation does
not stop by itself). Every limit that is reached becomes ``Exceeded``, which names the rule at its
``file:line:col``.

``evaluate_untrusted`` is the one function that evaluates the untrusted part of a check; extend
it (and ``Untrusted``) for anything else a check must evaluate. ``BoundedPool`` runs any
module-level function over items in such children (dry runs use it with several processes).
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import OrderedDict
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from types import FrameType
from types import TracebackType
from typing import Any
from typing import TypeVar

from .cases import CaseResult
from .cases import probe
from .cases import run_cases
from .compiler import Condition
from .loader import Sources
from .loader import load_ruleset
from .loader import version_of
from .model import RuleError
from .model import RuleSet
from .sourcemap import parse
from .spec import OUTCOMES_FILE

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")

#: The settings (``app.config`` keys) and their defaults. An evaluation of the shipped rules takes well under
#: a millisecond, so 200 ms is a condition hundreds of times slower than any the clinic needs, yet short
#: enough for a page to answer at once; 20 s keeps a check inside gunicorn's 30 s request timeout.
EVALUATION_MS_SETTING = "RULES_EVALUATION_MS"
CHECK_SECONDS_SETTING = "RULES_CHECK_LIMIT_SECONDS"
DRY_RUN_SECONDS_SETTING = "RULES_DRY_RUN_SECONDS"
MEMORY_MB_SETTING = "RULES_MEMORY_MB"

#: What a limit that was reached stopped.
TIME = "time"
MEMORY = "memory"
TOTAL = "total"
STOPPED = "stopped"

#: How often the parent looks at its children while it waits.
_POLL_SECONDS = 0.05
#: The parent kills a child whose evaluation runs this long past its budget (the child's own timer did not stop
#: it: its CPU time is not wall-clock time, or it is stuck inside one long operation).
_GRACE_SECONDS = 1.0
#: Bytes kept per child for the name of the rule it evaluates.
_LABEL_BYTES = 256
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Budget:
    """The limits on evaluating untrusted rule text."""

    evaluation_ms: int = 200
    check_seconds: float = 20.0
    dry_run_seconds: float = 900.0
    memory_mb: int = 512

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Budget:
        """Return the budget an app's settings give (defaults for the settings it lacks)."""
        default = cls()
        return cls(
            evaluation_ms=int(config.get(EVALUATION_MS_SETTING, default.evaluation_ms)),
            check_seconds=float(config.get(CHECK_SECONDS_SETTING, default.check_seconds)),
            dry_run_seconds=float(config.get(DRY_RUN_SECONDS_SETTING, default.dry_run_seconds)),
            memory_mb=int(config.get(MEMORY_MB_SETTING, default.memory_mb)),
        )

    @property
    def evaluation_seconds(self) -> float:
        """Return the time one evaluation may take, in seconds."""
        return self.evaluation_ms / 1000


_configured = Budget()


def configure(budget: Budget) -> None:
    """Set the budget this process uses where a caller gives none (the app does, from its settings)."""
    global _configured
    _configured = budget


def configured() -> Budget:
    """Return the budget this process uses where a caller gives none."""
    return _configured


# --- Where a rule is, and what went over its budget ------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Where a condition (or a test case) is written: file, line, column and the rule's id."""

    file: str
    line: int
    column: int
    rule: str

    def packed(self) -> bytes:
        """Return the fixed-size form kept in memory shared with the parent."""
        text = _SEPARATOR.join((self.file, str(self.line), str(self.column), self.rule))
        return text.encode("utf-8")[: _LABEL_BYTES - 1].ljust(_LABEL_BYTES, b"\0")

    @classmethod
    def unpacked(cls, data: bytes) -> Where | None:
        """Read what ``packed`` wrote; None when nothing was recorded."""
        parts = data.rstrip(b"\0").decode("utf-8", "replace").split(_SEPARATOR)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]), parts[3])


class Exceeded(Exception):
    """Evaluating rule text reached a limit (or its process stopped); names the rule evaluated, when known."""

    def __init__(self, kind: str, where: Where | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.where = where
        self.message = message

    @property
    def lasting(self) -> bool:
        """Return True when the same rule text would reach the limit again (not a run cut short or a lost process)."""
        return self.kind in (TIME, MEMORY)

    def rule_error(self) -> RuleError:
        """Return the problem as a rule error at the rule's ``file:line:col`` (at the top of outcomes.yaml if unknown)."""
        where = self.where or Where(OUTCOMES_FILE, 1, 1, "-")
        return RuleError(where.file, where.line, where.column, where.rule, self.message)

    def __str__(self) -> str:
        return str(self.rule_error()) if self.where is not None else self.message


def _message(kind: str, budget: Budget, doing: str, seconds: float, where: Where | None, detail: str = "") -> str:
    """Return what staff read when a limit is reached (``where`` is the rule it names, when known)."""
    if kind == TIME:
        return f"this condition took more than {budget.evaluation_ms} ms for one submission; simplify it"
    if kind == MEMORY:
        return f"this condition needed more than {budget.memory_mb} MB of memory for one submission; simplify it"
    if kind == TOTAL:
        total = f"{doing} took more than {seconds:g} s in all"
        return f"{total} and was stopped while evaluating this condition; simplify it" if where else total
    stopped = f"{doing} stopped unexpectedly ({detail or 'its process ended'}; see the server log)"
    return f"{stopped} while evaluating this condition" if where else stopped


# --- The child's side ------------------------------------------------------------------------------------


class _OverTime(BaseException):
    """Raised inside an evaluation when its time is up; a BaseException, so no ``except Exception`` keeps it."""


class _OverMemory(BaseException):
    """An evaluation ran out of memory; raised instead of MemoryError, which evaluation code may catch."""


class _Records:
    """Memory shared by the parent and its children: per child, what it evaluates and until when it may."""

    def __init__(self, context: BaseContext, slots: int) -> None:
        self.slots = slots
        self.deadlines = context.RawArray(ctypes.c_double, slots)
        self.labels = context.RawArray(ctypes.c_char, slots * _LABEL_BYTES)
        self.claimed = context.Value(ctypes.c_int, 0)

    def claim(self) -> int:
        """Return the slot of the calling child."""
        with self.claimed.get_lock():
            slot = self.claimed.value % self.slots
            self.claimed.value += 1
        return slot

    def label(self, slot: int, packed: bytes) -> None:
        """Record the rule a child evaluates now."""
        ctypes.memmove(ctypes.addressof(self.labels) + slot * _LABEL_BYTES, packed, _LABEL_BYTES)

    def where(self, slot: int) -> Where | None:
        """Return the rule a child evaluates (or evaluated last)."""
        return Where.unpacked(ctypes.string_at(ctypes.addressof(self.labels) + slot * _LABEL_BYTES, _LABEL_BYTES))

    def overdue(self, now: float) -> int | None:
        """Return the slot of a child whose evaluation is past its deadline and grace, if any."""
        for slot in range(self.slots):
            deadline = self.deadlines[slot]
            if deadline and now > deadline + _GRACE_SECONDS:
                return slot
        return None

    def busiest(self) -> Where | None:
        """Return the rule of the child that has been evaluating one submission longest (else any recorded one)."""
        busy = [slot for slot in range(self.slots) if self.deadlines[slot]]
        ordered = sorted(busy, key=lambda slot: self.deadlines[slot]) + list(range(self.slots))
        for slot in ordered:
            where = self.where(slot)
            if where is not None:
                return where
        return None


class Watch:
    """The child's record of what it evaluates, and the timer of the evaluation under way.

    In the parent (no records), it records nothing and sets no timer.
    """

    def __init__(self, records: _Records | None = None, slot: int = 0, seconds: float = 0.0) -> None:
        self.records = records
        self.slot = slot
        self.seconds = seconds
        self.current: Where | None = None

    def rule(self, where: Where, packed: bytes | None = None) -> None:
        """Record that the rule (or test case) at ``where`` is being evaluated."""
        self.current = where
        if self.records is not None:
            self.records.label(self.slot, packed or where.packed())

    @contextmanager
    def evaluation(self) -> Iterator[None]:
        """Time one evaluation (one rule set on one answers document): stop it when its budget is spent."""
        if self.records is None:
            yield
            return
        self.records.deadlines[self.slot] = time.monotonic() + self.seconds
        signal.setitimer(signal.ITIMER_PROF, self.seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            self.records.deadlines[self.slot] = 0.0

    def each(self, items: Iterable[Item]) -> Iterator[Item]:
        """Yield ``items``, timing what the caller does with each one as one evaluation."""
        for item in items:
            with self.evaluation():
                yield item


_watch = Watch()


def watch() -> Watch:
    """Return this process's watch (one that records nothing, outside a bounded child)."""
    return _watch


def _on_timer(signum: int, frame: FrameType | None) -> None:
    """Stop the evaluation under way: its time is up."""
    raise _OverTime()


@dataclass(frozen=True)
class _WatchedCondition(Condition):
    """A condition that records its rule before it is evaluated, and reports running out of memory as such."""

    where: Where | None = None
    packed: bytes = b""

    def matches(self, facts: dict[str, Any]) -> bool:
        """Return True when the condition holds for ``facts``, recording which rule is evaluated."""
        if self.where is not None:
            _watch.rule(self.where, self.packed)
        try:
            return super().matches(facts)
        except MemoryError:
            raise _OverMemory() from None


def watched(ruleset: RuleSet) -> RuleSet:
    """Return ``ruleset`` with every condition recording its rule's place while it is evaluated."""
    documents = {name: parse(ruleset.sources[name]) for name in {rule.file for rule in ruleset.rules}}
    rules = []
    for rule in ruleset.rules:
        document = documents.get(rule.file)
        line, column = document.position(("rules", rule.index, "when")) if document else (1, 1)
        where = Where(rule.file, line, column, rule.id)
        condition = rule.condition
        watching = _WatchedCondition(condition.text, condition.rule, condition.symbols, where, where.packed())
        rules.append(dataclasses.replace(rule, condition=watching))
    return dataclasses.replace(ruleset, rules=tuple(rules))


@dataclass(frozen=True)
class _Outcome:
    """What a child sends back for one item: the result, or which limit stopped it and where."""

    result: Any = None
    kind: str | None = None
    where: Where | None = None
    detail: str = ""


def _start_child(
    records: _Records,
    budget: Budget,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    """Set a child up: its slot in the records, its memory limit, its timer; then the caller's own set-up."""
    global _watch
    _limit_memory(budget.memory_mb)
    signal.signal(signal.SIGPROF, _on_timer)
    _watch = Watch(records, records.claim(), budget.evaluation_seconds)
    if initializer is not None:
        initializer(*initargs)


def _limit_memory(megabytes: int) -> None:
    """Let this process's address space grow at most ``megabytes`` above its size now."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return  # not Linux: the time limits still hold
    limit = size + megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _call(function: Callable[[Any], Any], item: Any) -> _Outcome:
    """Run ``function(item)`` in a child; report a limit reached (and where) instead of raising."""
    try:
        return _Outcome(result=function(item))
    except _OverTime:
        return _Outcome(kind=TIME, where=_watch.current)
    except (_OverMemory, MemoryError):
        return _Outcome(kind=MEMORY, where=_watch.current)
    except Exception as error:  # noqa: BLE001 - the parent reports it; the traceback goes to this log
        log.exception("evaluating rule text failed")
        return _Outcome(kind=STOPPED, where=_watch.current, detail=type(error).__name__)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


# --- The parent's side -----------------------------------------------------------------------------------

_preload = ["screening.engine.budget"]
_context_lock = threading.Lock()


def preload(module: str) -> None:
    """Import ``module`` in the forkserver, so that children start with it (call at import, before any child)."""
    with _context_lock:
        if module not in _preload:
            _preload.append(module)


def process_context() -> BaseContext:
    """Return the "forkserver" context children start from, with the rule engine imported in its server."""
    context = multiprocessing.get_context("forkserver")
    with _context_lock:
        context.set_forkserver_preload(list(_preload))
    return context


class BoundedPool:
    """Child processes that evaluate untrusted rule text within a budget; use it as a context manager.

    ``map`` yields results in order and raises ``Exceeded`` when an evaluation or the whole run goes
    over its budget or a child stops; leaving the ``with`` block stops every child. The run may take
    ``seconds`` from ``started`` (a ``time.monotonic()`` reading; default: now).
    """

    def __init__(
        self,
        processes: int,
        *,
        seconds: float,
        doing: str,
        budget: Budget | None = None,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        started: float | None = None,
    ) -> None:
        self.processes = max(1, processes)
        self.seconds = seconds
        self.doing = doing
        self.budget = budget or configured()
        context = process_context()
        self.records = _Records(context, self.processes)
        self.deadline = (time.monotonic() if started is None else started) + seconds
        self.executor = ProcessPoolExecutor(
            self.processes,
            mp_context=context,
            initializer=_start_child,
            initargs=(self.records, self.budget, initializer, initargs),
        )

    def __enter__(self) -> BoundedPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close(kill=kind is not None)

    def map(self, function: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[Result]:
        """Yield ``function(item)`` for every item, computed in the children, in order; items are read as needed."""
        pending: deque[Future[_Outcome]] = deque()
        source = iter(items)
        while True:
            while len(pending) < 2 * self.processes:
                item = next(source, _END)
                if item is _END:
                    break
                pending.append(self._submit(function, item))
            if not pending:
                return
            yield self._result(pending.popleft())

    def _submit(self, function: Callable[[Any], Any], item: Any) -> Future[_Outcome]:
        """Hand one item to the children; a child that cannot be started is reported like one that stopped."""
        try:
            return self.executor.submit(_call, function, item)
        except (OSError, RuntimeError, BrokenProcessPool) as error:
            log.error("no process to evaluate rule text in: %s", error)
            raise self._exceeded(STOPPED, None, f"no process could be started: {type(error).__name__}") from None

    def _result(self, future: Future[_Outcome]) -> Any:
        """Wait for one result, watching the children; raise Exceeded for a limit reached."""
        while True:
            try:
                outcome = future.result(timeout=_POLL_SECONDS)
            except TimeoutError:
                self._watch_children()
                continue
            except BrokenProcessPool:
                raise self._exceeded(STOPPED, self.records.busiest()) from None
            if outcome.kind is not None:
                raise self._exceeded(outcome.kind, outcome.where, outcome.detail)
            return outcome.result

    def _watch_children(self) -> None:
        """Raise Exceeded when the whole run is over its time, or an evaluation is long past its own."""
        now = time.monotonic()
        if now > self.deadline:
            raise self._exceeded(TOTAL, self.records.busiest())
        slot = self.records.overdue(now)
        if slot is not None:
            raise self._exceeded(TIME, self.records.where(slot))

    def _exceeded(self, kind: str, where: Where | None, detail: str = "") -> Exceeded:
        """Return the error for a limit reached."""
        return Exceeded(kind, where, _message(kind, self.budget, self.doing, self.seconds, where, detail))

    def close(self, *, kill: bool) -> None:
        """Stop the children: at once (``kill``), or once they finish what they were given."""
        if kill:
            for process in list(getattr(self.executor, "_processes", {}).values()):  # Python 3.14: kill_workers()
                process.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)


_END: Any = object()


# --- What a check evaluates ------------------------------------------------------------------------------


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
    _watch.rule(Where(file, line, 1, label))
    return _watch.evaluation()


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
