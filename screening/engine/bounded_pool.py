"""The parent's side of evaluating untrusted rule text: child processes from a forkserver, watched.

``BoundedPool`` runs any module-level function over items in bounded children (``bounded_child``)
and raises ``budget.Exceeded`` when an evaluation or the whole run goes over its budget or a child
stops. Children start from a "forkserver" (never forked from a threaded web worker holding database
connections) that has imported the modules ``preload`` names.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Any
from typing import TypeVar

from .bounded_child import Outcome
from .bounded_child import Records
from .bounded_child import outcome_of
from .bounded_child import start_child
from .budget import MEMORY
from .budget import STOPPED
from .budget import TIME
from .budget import TOTAL
from .budget import Budget
from .budget import Exceeded
from .budget import Where
from .budget import configured

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")

#: How often the parent looks at its children while it waits.
_POLL_SECONDS = 0.05


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


_preload = ["screening.engine.bounded_child"]
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
        self.records = Records(context, self.processes)
        self.deadline = (time.monotonic() if started is None else started) + seconds
        self.executor = ProcessPoolExecutor(
            self.processes,
            mp_context=context,
            initializer=start_child,
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
        pending: deque[Future[Outcome]] = deque()
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

    def _submit(self, function: Callable[[Any], Any], item: Any) -> Future[Outcome]:
        """Hand one item to the children; a child that cannot be started is reported like one that stopped."""
        try:
            return self.executor.submit(outcome_of, function, item)
        except (OSError, RuntimeError, BrokenProcessPool) as error:
            log.error("no process to evaluate rule text in: %s", error)
            raise self._exceeded(STOPPED, None, f"no process could be started: {type(error).__name__}") from None

    def _result(self, future: Future[Outcome]) -> Any:
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
