"""The active rule set of one process, reloaded when the files change.

A rule set is activated only if it loads cleanly and all its test cases pass. Each
activated version is stored with its content; when the files become invalid, the last
good version stays active and the failure is recorded. Several processes watch the same
files, so each switches to a new version on its own, without a restart.
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

from .. import audit
from ..models import RulesLoadFailure
from ..models import RuleSetVersion
from .cases import failures
from .cases import run_cases
from .loader import Sources
from .loader import load_ruleset
from .loader import read_sources
from .loader import version_of
from .model import RuleSet
from .model import RuleSetInvalid

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
            _cache[version] = cached
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(cached, list):
        raise RulesUnavailable([prefix + problem for problem in cached])
    return cached


def _load_and_test(sources: Sources) -> RuleSet | list[str]:
    """Return the loaded rule set, or the list of problems keeping it from activation."""
    try:
        ruleset = load_ruleset(sources)
    except RuleSetInvalid as invalid:
        return [str(error) for error in invalid.errors]
    failed = failures(run_cases(ruleset))
    if failed:
        return [f"{r.where}: test '{r.case.spec.name}' failed: {'; '.join(r.problems)}" for r in failed]
    return ruleset


def fingerprint(directory: Path) -> Fingerprint:
    """Return names, sizes and modification times of the rule files: cheap to compare."""
    entries = []
    for path in sorted(directory.rglob("*.yaml")):
        stat = path.stat()
        entries.append((path.relative_to(directory).as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


class Registry:
    """Holds the active rule set of this process and reloads it when the files change."""

    def __init__(self, directory: Path, sessions: Callable[[], orm.Session], *, check_seconds: float) -> None:
        self.directory = directory
        self.sessions = sessions
        self.check_seconds = check_seconds
        self.active: RuleSet | None = None
        self.last_failure: Failure | None = None
        self._seen: Fingerprint | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self, now: datetime) -> RuleSet | None:
        """Return the active rule set, first reloading the files if they changed."""
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
        """Activate the files if they changed and are valid; otherwise keep the last good version."""
        with self._lock:
            self._checked = time.monotonic()
            seen = fingerprint(self.directory)
            if seen == self._seen and self.active is not None:
                return
            sources = read_sources(self.directory)
            self._seen = seen
            if self.active is not None and version_of(sources) == self.active.version:
                return
            try:
                ruleset = checked_ruleset(sources, prefix=f"{self.directory.name}/")
            except RulesUnavailable as unavailable:
                self._record_failure(version_of(sources), unavailable.errors, now)
                if self.active is None:
                    self.active = self._last_stored()
                return
            self._store(ruleset, now)
            self.active = ruleset
            self.last_failure = None

    def require(self, now: datetime) -> RuleSet:
        """Return the active rule set, raising RulesUnavailable when there is none."""
        self.refresh(now)
        if self.active is None:
            raise RulesUnavailable(self.last_failure.errors if self.last_failure else ["no rule files found"])
        return self.active

    def _store(self, ruleset: RuleSet, now: datetime) -> None:
        """Store a newly activated version once, with an audit event; other processes may race us."""
        with self.sessions() as session:
            exists = session.scalar(sa.select(RuleSetVersion.id).where(RuleSetVersion.version == ruleset.version))
            if exists is not None:
                return
            stored = RuleSetVersion(version=ruleset.version, sources=ruleset.sources, activated_at=now, origin="files")
            session.add(stored)
            try:
                session.flush()
                audit.record(
                    session,
                    actor="system",
                    action="ruleset.activated",
                    subject_type="ruleset_version",
                    subject_id=stored.id,
                    at=now,
                    details={"version": ruleset.version, "worker": worker_name()},
                )
                session.commit()
            except IntegrityError:
                session.rollback()  # another process stored the same version first
        log.info("rule set %s activated", ruleset.version)

    def _record_failure(self, version: str, errors: list[str], now: datetime) -> None:
        """Record why the files were not activated, once per version and process."""
        if self.last_failure is not None and self.last_failure.version == version:
            return
        self.last_failure = Failure(version, errors, now)
        log.error("rule files %s not activated (%d problems); keeping %s", version, len(errors), self.version)
        with self.sessions() as session:
            session.add(RulesLoadFailure(at=now, version=version, errors=errors, worker=worker_name()))
            session.commit()

    def _last_stored(self) -> RuleSet | None:
        """Return the most recently activated stored version, if one is valid."""
        with self.sessions() as session:
            stored = session.scalars(
                sa.select(RuleSetVersion).order_by(RuleSetVersion.activated_at.desc()).limit(1)
            ).first()
        if stored is None:
            return None
        try:
            return checked_ruleset(dict(stored.sources))
        except RulesUnavailable:
            log.error("stored rule set %s no longer loads", stored.version)
            return None


def worker_name() -> str:
    """Return host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"
