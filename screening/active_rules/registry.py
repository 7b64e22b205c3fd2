"""The active rule set of one process: the version the database names, switched within seconds.

The newest ``RuleSetActivation`` row names the version every worker decides with; each process
polls that pointer every ``check_seconds`` and loads a new version from its stored text, so all
workers and hosts on one database switch together. A version is used only if it loads cleanly and
its test cases pass; otherwise the process keeps what it had (or the newest earlier activation
that loads) and records the failure.

The rules directory on disk is the authoring format. It is activated on its own only on the very
first start (nothing activated yet); after that it changes the active version only through
publishing. Each process still watches it and reports whether it matches the active version, is a
valid unpublished change, or is invalid (with the errors).

Only serving processes (web workers, task consumers) write the status row the rules home lists; a
command-line process (``rules activate``, ``seed``) follows the same pointer but serves nobody, so it
stays off the list until ``mark_serving``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from ..models import RulesLoadFailure
from ..models import RulesWorker
from . import store
from ..engine.budget import Exceeded
from ..engine.bounded_check import evaluate_bounded
from ..engine.cases import failures
from ..engine.loader import Sources
from ..engine.loader import load_ruleset
from ..engine.loader import read_sources
from ..engine.loader import version_of
from ..engine.model import RuleSet
from ..engine.model import RuleSetInvalid

log = logging.getLogger(__name__)
Fingerprint = tuple[tuple[str, int, int], ...]
_CACHE_SIZE = 8
_cache: OrderedDict[str, RuleSet | list[str]] = OrderedDict()
_cache_lock = threading.Lock()


class RulesUnavailable(RuntimeError):
    """No rule set can be activated: the files are invalid and none was activated before."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("No valid rule set is available:\n" + "\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Failure:
    """The last attempt to activate rule files that failed."""

    version: str
    errors: list[str]
    at: datetime


def checked_ruleset(sources: Sources, *, prefix: str = "rules/") -> RuleSet:
    """Load a rule set and run its test cases; raise RulesUnavailable with every problem.

    Each problem starts with its file, shown under ``prefix``. Results are kept per
    version, so processes and tests that see the same files load them once.
    """
    version = version_of(sources)
    with _cache_lock:
        cached = _cache.get(version)
    if cached is None:
        cached = _load_and_test(sources)
        with _cache_lock:
            if not isinstance(cached, _Interrupted):  # tried again next time
                _cache[version] = cached
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(cached, list):
        raise RulesUnavailable([prefix + problem for problem in cached])
    return cached


class _Interrupted(list[str]):
    """The problems of a check that was cut short (its time in all, or its process lost): not kept."""


def _load_and_test(sources: Sources) -> RuleSet | list[str]:
    """Return the loaded rule set, or the list of problems keeping it from activation.

    The test cases and the probe run in a bounded child process (``budget``), never in this one.
    """
    try:
        ruleset = load_ruleset(sources)
    except RuleSetInvalid as invalid:
        return [str(error) for error in invalid.errors]
    try:
        untrusted = evaluate_bounded(ruleset.sources)
    except Exceeded as exceeded:
        problems = [str(exceeded.rule_error())]
        return problems if exceeded.lasting else _Interrupted(problems)
    failed = failures(list(untrusted.cases))
    if failed or untrusted.raised:
        return [f"{r.where}: test '{r.case.spec.name}' failed: {'; '.join(r.problems)}" for r in failed] + [
            str(error) for error in untrusted.raised
        ]
    return ruleset


def fingerprint(directory: Path) -> Fingerprint:
    """Return names, sizes and modification times of the rule files: cheap to compare."""
    entries = []
    for path in sorted(directory.rglob("*.yaml")):
        stat = path.stat()
        entries.append((path.relative_to(directory).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


#: States of the rule files on disk, as each worker reports them.
FILES_ACTIVE = "active"
FILES_UNPUBLISHED = "unpublished"
FILES_INVALID = "invalid"
FILES_MISSING = "missing"
#: A worker rewrites its status row at least this often while it serves requests.
HEARTBEAT_SECONDS = 30.0


class Registry:
    """Holds the active rule set of this process and switches when the database names another."""

    def __init__(
        self, directory: Path, sessions: Callable[[], orm.Session], *, check_seconds: float, serving: bool = False
    ) -> None:
        self.directory = directory
        #: Whether this process serves requests or tasks, and so reports its state on the rules home.
        self.serving = serving
        self.sessions = sessions
        self.check_seconds = check_seconds
        self.active: RuleSet | None = None
        self.activation_id: int | None = None
        self.loaded_at: datetime | None = None
        self.last_failure: Failure | None = None
        self.files_state = FILES_MISSING
        self.files_version: str | None = None
        self.name = f"{worker_name()}:{time.time_ns()}"
        self.started_at: datetime | None = None
        self._seen: Fingerprint | None = None
        self._checked = float("-inf")
        self._reported: tuple[object, ...] | None = None
        self._reported_at = float("-inf")
        self._lock = threading.Lock()

    def mark_serving(self) -> None:
        """Note that this process serves requests or tasks: its next check reports its state on the rules home."""
        if not self.serving:
            self.serving = True
            self._checked = float("-inf")  # report at the next call, not a check period later

    def current(self, now: datetime) -> RuleSet | None:
        """Return the active rule set, first switching if the database names another version."""
        if time.monotonic() - self._checked >= self.check_seconds:
            try:
                self.refresh(now)
            except Exception:  # noqa: BLE001 - a broken reload must never stop an intake
                log.exception("rule set reload failed; keeping version %s", self.version)
        return self.active

    @property
    def version(self) -> str | None:
        """Return the active version, if any."""
        return self.active.version if self.active else None

    def refresh(self, now: datetime) -> None:
        """Follow the database's active version, check the files on disk, and report this worker's state."""
        with self._lock:
            self._checked = time.monotonic()
            if self.started_at is None:
                self.started_at = now
            with self.sessions() as session:
                pointer = store.active_pointer(session)
            if pointer is None:
                self._bootstrap(now)
            elif pointer[0] != self.activation_id:
                self._switch(pointer[0], pointer[1], now)
            self._check_files(now)
            self._report(now)

    def require(self, now: datetime) -> RuleSet:
        """Return the active rule set, raising RulesUnavailable when there is none."""
        self.refresh(now)
        if self.active is None:
            raise RulesUnavailable(self.last_failure.errors if self.last_failure else ["no rule files found"])
        return self.active

    def _bootstrap(self, now: datetime) -> None:
        """Nothing was ever activated: activate the files on disk if they load and pass their tests."""
        sources = read_sources(self.directory)
        if not sources:
            return
        try:
            ruleset = checked_ruleset(sources, prefix=f"{self.directory.name}/")
        except RulesUnavailable as unavailable:
            self._record_failure(version_of(sources), unavailable.errors, now)
            return
        with self.sessions() as session:
            try:
                if store.active_pointer(session) is None:  # another worker may have just done it
                    stored = store.store_version(session, sources, origin="files", now=now)
                    store.activate(session, stored, kind=store.BOOTSTRAP, actor="system", now=now)
                    session.commit()
                    log.info("rule set %s activated from %s", ruleset.version, self.directory)
            except IntegrityError:
                session.rollback()  # another worker stored the same version first
            pointer = store.active_pointer(session)
        if pointer is not None:
            self._switch(pointer[0], pointer[1], now)

    def _switch(self, activation_id: int, version: str, now: datetime) -> None:
        """Use the version of activation ``activation_id``; keep the current one if it does not load."""
        self.activation_id = activation_id
        if version == self.version:
            return
        with self.sessions() as session:
            history = store.version_history(session, through=activation_id)
            for index, (version_id, candidate_version) in enumerate(history):
                if candidate_version == self.version:
                    return  # nothing newer loads: keep what we have
                sources = store.sources_of(session, version_id)  # read only for the versions tried
                try:
                    ruleset = checked_ruleset(sources, prefix="rules/")
                except RulesUnavailable as unavailable:
                    if index == 0:
                        self._record_failure(candidate_version, unavailable.errors, now)
                    continue
                self.active = ruleset
                self.loaded_at = now
                if index == 0:
                    self.last_failure = None
                log.info("rule set %s is active in this process", ruleset.version)
                return

    def _check_files(self, now: datetime) -> None:
        """Compare the files on disk with the active version, validating them when they differ."""
        seen = fingerprint(self.directory) if self.directory.is_dir() else ()
        if seen == self._seen and self.files_version is not None:
            self._files_state_for(self.files_version)
            return
        self._seen = seen
        sources = read_sources(self.directory) if seen else {}
        if not sources:
            self.files_state, self.files_version = FILES_MISSING, None
            return
        self.files_version = version_of(sources)
        try:
            checked_ruleset(sources, prefix=f"{self.directory.name}/")
        except RulesUnavailable as unavailable:
            self.files_state = FILES_INVALID
            self._record_failure(self.files_version, unavailable.errors, now)
            return
        self.files_state = FILES_UNPUBLISHED  # valid now, even if the files were invalid before
        self._files_state_for(self.files_version)

    def _files_state_for(self, files_version: str) -> None:
        """Set the files' state from their version, once they are known to be valid (or invalid)."""
        if self.files_state == FILES_INVALID:
            return
        self.files_state = FILES_ACTIVE if files_version == self.version else FILES_UNPUBLISHED

    def _record_failure(self, version: str, errors: list[str], now: datetime) -> None:
        """Record why a version was not used, once per version and process."""
        if self.last_failure is not None and self.last_failure.version == version:
            return
        self.last_failure = Failure(version, errors, now)
        log.error("rule set %s not activated (%d problems); keeping %s", version, len(errors), self.version)
        with self.sessions() as session:
            session.add(RulesLoadFailure(at=now, version=version, errors=errors, worker=worker_name()))
            session.commit()

    def _report(self, now: datetime) -> None:
        """Write this worker's status row when it changed, and at least every HEARTBEAT_SECONDS (serving only)."""
        if not self.serving:
            return
        failure = self.last_failure
        state = (self.version, self.files_state, self.files_version, failure.version if failure else None)
        if state == self._reported and time.monotonic() - self._reported_at < HEARTBEAT_SECONDS:
            return
        values = {
            "seen_at": now,
            "version": self.version,
            "loaded_at": self.loaded_at,
            "files_state": self.files_state,
            "files_version": self.files_version,
            "failure_at": failure.at if failure else None,
            "failure_version": failure.version if failure else None,
            "failure_errors": failure.errors if failure else None,
        }
        with self.sessions() as session:
            row = session.scalar(sa.select(RulesWorker).where(RulesWorker.name == self.name))
            if row is None:
                session.add(RulesWorker(name=self.name, started_at=self.started_at or now, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            session.commit()
        self._reported, self._reported_at = state, time.monotonic()


def worker_name() -> str:
    """Return host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"
