"""The child's side of evaluating untrusted rule text: its timer, its memory limit, the rule it evaluates.

A bounded child (started by ``bounded_pool.BoundedPool``) claims a slot in ``Records``, memory it
shares with the parent, and records there which rule it evaluates and until when the evaluation
under way may run. ``watch()`` is this process's ``Watch``; ``watched`` makes every condition of a
rule set record its rule before it is evaluated. ``outcome_of`` runs one item and reports a limit
reached, and where, as plain data for the parent.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import resource
import signal
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from types import CodeType
from types import FrameType
from typing import Any
from typing import TypeVar

from .budget import LABEL_BYTES
from .budget import MEMORY
from .budget import STOPPED
from .budget import TIME
from .budget import Budget
from .budget import Where
from .compiler import Condition
from .model import RuleSet
from .native import BatchFunction
from .native import condition_at
from .sourcemap import parse

log = logging.getLogger(__name__)
Item = TypeVar("Item")

#: The parent kills a child whose evaluation runs this long past its budget (the child's own timer did not stop
#: it: its CPU time is not wall-clock time, or it is stuck inside one long operation).
_GRACE_SECONDS = 1.0


class _OverTime(BaseException):
    """Raised inside an evaluation when its time is up; a BaseException, so no ``except Exception`` keeps it."""


class _OverMemory(BaseException):
    """An evaluation ran out of memory; raised instead of MemoryError, which evaluation code may catch."""


class Records:
    """Memory shared by the parent and its children: per child, what it evaluates and until when it may."""

    def __init__(self, context: BaseContext, slots: int) -> None:
        self.slots = slots
        self.deadlines = context.RawArray(ctypes.c_double, slots)
        self.labels = context.RawArray(ctypes.c_char, slots * LABEL_BYTES)
        self.claimed = context.Value(ctypes.c_int, 0)

    def claim(self) -> int:
        """Return the slot of the calling child."""
        with self.claimed.get_lock():
            slot = self.claimed.value % self.slots
            self.claimed.value += 1
        return slot

    def label(self, slot: int, packed: bytes) -> None:
        """Record the rule a child evaluates now."""
        ctypes.memmove(ctypes.addressof(self.labels) + slot * LABEL_BYTES, packed, LABEL_BYTES)

    def where(self, slot: int) -> Where | None:
        """Return the rule a child evaluates (or evaluated last)."""
        return Where.unpacked(ctypes.string_at(ctypes.addressof(self.labels) + slot * LABEL_BYTES, LABEL_BYTES))

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

    def __init__(self, records: Records | None = None, slot: int = 0, seconds: float = 0.0) -> None:
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

    def locate(self, frame: FrameType | None) -> None:
        """Record the condition a batch function (``label_batch``) was deciding in ``frame`` or a caller of it."""
        while frame is not None:
            found = _batches.get(frame.f_code)
            if found is not None:
                index = condition_at(found[0], frame.f_lineno)
                if index is not None and index < len(found[1]) and found[1][index] is not None:
                    self.current = found[1][index]
                return
            frame = frame.f_back

    def each(self, items: Iterable[Item]) -> Iterator[Item]:
        """Yield ``items``, timing what the caller does with each one as one evaluation."""
        for item in items:
            with self.evaluation():
                yield item


_watch = Watch()
#: Batch functions (``native.batch_function``) by their code, with the rule of each condition they decide.
_BATCHES_MAX = 64
_batches: dict[CodeType, tuple[BatchFunction, tuple[Where | None, ...]]] = {}


def label_batch(function: BatchFunction, wheres: Iterable[Where | None]) -> None:
    """Name the rule of each condition ``function`` decides, so that a time limit reached in it names the rule.

    A batch function records nothing while it runs (that would cost what it saves): the timer's handler
    finds the line being executed and so the condition (``Watch.locate``).
    """
    _batches[function.__code__] = (function, tuple(wheres))
    while len(_batches) > _BATCHES_MAX:
        _batches.pop(next(iter(_batches)))


def watch() -> Watch:
    """Return this process's watch (one that records nothing, outside a bounded child)."""
    return _watch


def _on_timer(signum: int, frame: FrameType | None) -> None:
    """Stop the evaluation under way: its time is up."""
    _watch.locate(frame)
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
        watching = _WatchedCondition(
            condition.text, condition.rule, condition.symbols, condition.native, where, where.packed()
        )
        rules.append(dataclasses.replace(rule, condition=watching))
    return dataclasses.replace(ruleset, rules=tuple(rules))


@dataclass(frozen=True)
class Outcome:
    """What a child sends back for one item: the result, or which limit stopped it and where."""

    result: Any = None
    kind: str | None = None
    where: Where | None = None
    detail: str = ""


def start_child(
    records: Records,
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


def outcome_of(function: Callable[[Any], Any], item: Any) -> Outcome:
    """Run ``function(item)`` in a child; report a limit reached (and where) instead of raising."""
    try:
        return Outcome(result=function(item))
    except _OverTime:
        return Outcome(kind=TIME, where=_watch.current)
    except (_OverMemory, MemoryError):
        return Outcome(kind=MEMORY, where=_watch.current)
    except Exception as error:  # noqa: BLE001 - the parent reports it; the traceback goes to this log
        log.exception("evaluating rule text failed")
        return Outcome(kind=STOPPED, where=_watch.current, detail=type(error).__name__)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
