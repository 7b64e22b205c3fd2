"""What the rules home, a stored version's page and the tests pages show, ready for the templates: versions,
workers, tests, numbered lines; and the check of a rule set every tuning page shows, kept per pair of versions.

A draft's page and its editor are in ``draft_pages``, the diff page in ``diff_page``, the words they all use in
``wording``. Read-only helpers over ``drafts`` and ``active_rules.store``; nothing here changes the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from ..models import RulesWorker
from ..models import RuleSetActivation
from ..models import RuleSetVersion
from ..active_rules import store
from ..engine.cases import CaseResult
from ..engine.loader import Sources
from ..engine.loader import version_of
from ..engine.model import RuleError
from . import checks
from . import drafts
from .errors import TuningNotFound
from .wording import actor_id
from .wording import actor_name
from .wording import drafts_people
from .wording import plural
from .wording import short
from .wording import user_emails
from . import dry_run_store

#: Workers not seen for this long are counted, not listed: they have most likely stopped.
WORKER_WINDOW = timedelta(minutes=10)
#: What each state of the files on disk means, in plain words.
FILES_EXPLAINED = {
    "active": "the files in rules/ on this worker are the active version",
    "unpublished": "the files in rules/ on this worker differ from the active version and are not published",
    "invalid": "the files in rules/ on this worker are invalid: they do not load or their tests fail "
    "(see the last failed reload)",
    "missing": "there are no rule files in rules/ on this worker",
}
_CHECKS_KEPT = 16
_checks: OrderedDict[tuple[str, str | None], checks.Check] = OrderedDict()
_checks_lock = threading.Lock()


# --- Checks ----------------------------------------------------------------------------------------


def checked(sources: Sources, active_sources: Sources | None) -> checks.Check:
    """Return the check of a rule set for display, kept per pair of versions (the service re-checks on every step)."""
    key = (version_of(sources), version_of(active_sources) if active_sources is not None else None)
    with _checks_lock:
        found = _checks.get(key)
    if found is None:
        found = checks.check_sources(dict(sources), dict(active_sources) if active_sources is not None else None)
        with _checks_lock:
            _checks[key] = found
            while len(_checks) > _CHECKS_KEPT:
                _checks.popitem(last=False)
    return found


def active_sources(session: orm.Session) -> Sources | None:
    """Return the files of the active version, None before the first activation."""
    current = store.active(session)
    return dict(current.version.sources) if current is not None else None


def check_summary(check: checks.Check) -> str:
    """Return one sentence about a check: what keeps it from publication, or that it is clean."""
    if not check.loads:
        return f"The rules do not load: {plural(len(check.errors), 'error')}."
    failed = len(check.failed)
    text = f"{len(check.results) - failed} of {plural(len(check.results), 'test')} pass"
    if failed:
        text += f"; {failed} fail"
    if check.safety:
        text += f"; the locked safety rule is changed ({plural(len(check.safety), 'problem')})"
    return text + "."


# --- Workers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerRow:
    """One running process: what it decides with, the files on its disk, its last failed reload."""

    worker: RulesWorker
    current: bool
    files_text: str


def worker_rows(session: orm.Session, active_version: str | None, now: datetime) -> tuple[list[WorkerRow], int]:
    """Return the workers seen in the last WORKER_WINDOW, newest first, and how many older ones are left out."""
    since = now - WORKER_WINDOW
    recent = session.scalars(
        sa.select(RulesWorker).where(RulesWorker.seen_at >= since).order_by(RulesWorker.name)
    ).all()
    older = session.scalar(sa.select(sa.func.count()).select_from(RulesWorker).where(RulesWorker.seen_at < since))
    rows = [
        WorkerRow(
            worker=worker,
            current=worker.version is not None and worker.version == active_version,
            files_text=FILES_EXPLAINED.get(worker.files_state, worker.files_state),
        )
        for worker in recent
    ]
    return rows, int(older or 0)


# --- Versions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationRow:
    """One switch of the active version, with the people named."""

    activation: RuleSetActivation
    version: RuleSetVersion
    by: str
    approved_by: str
    active: bool


def activation_rows(
    session: orm.Session, current: store.Active | None, *, version_id: int | None = None
) -> list[ActivationRow]:
    """Return the activation history, newest first (only of one version if ``version_id``)."""
    history = [
        (activation, version)
        for activation, version in store.activations(session)
        if version_id is None or version.id == version_id
    ]
    emails = user_emails(
        session, [actor_id(a.actor) for a, _ in history] + [actor_id(a.approved_by) for a, _ in history]
    )
    active_id = current.version.id if current is not None else None
    return [
        ActivationRow(
            activation=activation,
            version=version,
            by=actor_name(activation.actor, emails),
            approved_by=actor_name(activation.approved_by, emails),
            active=version.id == active_id,
        )
        for activation, version in history
    ]


def get_version(session: orm.Session, version_id: int) -> RuleSetVersion:
    """Return a stored version or raise TuningNotFound."""
    version = session.get(RuleSetVersion, version_id)
    if version is None:
        raise TuningNotFound(f"There is no stored version number {version_id}.")
    return version


def file_text(sources: Mapping[str, Any], name: str, where: str) -> str:
    """Return the text of one file of a version or draft, or raise TuningNotFound."""
    text = sources.get(name)
    if not isinstance(text, str):
        raise TuningNotFound(f"{where} has no file {name}.")
    return text


# --- Numbered lines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a file, with its number and the load errors reported on it."""

    number: int
    text: str
    errors: tuple[RuleError, ...]

    @property
    def gutter(self) -> str:
        """Return the gutter cell: a marker for a line with errors, then the right-aligned number."""
        return f"{'!' if self.errors else ' '}{self.number:>4}"


def numbered(text: str, errors: Mapping[int, list[RuleError]] | None = None) -> list[Line]:
    """Return the lines of a text with their numbers and errors (at least one line, for an empty file)."""
    errors = errors or {}
    lines = text.splitlines() or [""]
    return [Line(number, line, tuple(errors.get(number, ()))) for number, line in enumerate(lines, 1)]


# --- Test cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    """One test case as the table shows it: expected and actual side by side."""

    number: int
    where: str
    name: str
    passed: bool
    expected_outcome: str
    actual_outcome: str
    expected_fired: list[str]
    actual_fired: list[str]
    expected_notes: list[str]
    actual_notes: list[str]
    problems: tuple[str, ...]


def case_rows(results: list[CaseResult]) -> list[CaseRow]:
    """Return the rows of the tests table, in file order."""
    rows = []
    for number, result in enumerate(results, 1):
        expect, evaluation = result.case.spec.expect, result.evaluation
        rows.append(
            CaseRow(
                number=number,
                where=result.where,
                name=result.case.spec.name,
                passed=result.passed,
                expected_outcome=expect.outcome,
                actual_outcome=evaluation.outcome if evaluation is not None else "(not evaluated)",
                expected_fired=sorted(expect.fired),
                actual_fired=sorted(evaluation.fired_rules) if evaluation is not None else [],
                expected_notes=list(expect.notes),
                actual_notes=[f"{note.rule}: {note.text}" for note in evaluation.notes] if evaluation else [],
                problems=result.problems,
            )
        )
    return rows


# --- Page contexts ---------------------------------------------------------------------------------


def home_context(session: orm.Session, now: datetime, *, all_drafts: bool = False) -> dict[str, Any]:
    """Return what the rules home shows: active version, its tests, workers, history and drafts."""
    current = store.active(session)
    workers, hidden = worker_rows(session, current.version.version if current else None, now)
    listed = drafts.list_drafts(session, include_closed=all_drafts)
    return {
        "current": current,
        "current_by": activation_rows(session, current, version_id=current.version.id)[0] if current else None,
        "check": checked(dict(current.version.sources), None) if current else None,
        "workers": workers,
        "hidden_workers": hidden,
        "window_minutes": int(WORKER_WINDOW.total_seconds() // 60),
        "history": activation_rows(session, current),
        "drafts": listed,
        "all_drafts": all_drafts,
        "people": drafts_people(session, listed),
        "dry_runs": dry_run_store.recent_runs(session, 10),
    }


def version_context(session: orm.Session, version_id: int, name: str | None) -> dict[str, Any]:
    """Return what a stored version's page shows: its files, or one file with numbered lines."""
    version = get_version(session, version_id)
    current = store.active(session)
    sources = dict(version.sources)
    return {
        "version": version,
        "active": current is not None and current.version.id == version.id,
        "current": current,
        "history": activation_rows(session, current, version_id=version.id),
        "names": sorted(sources),
        "name": name,
        "lines": numbered(file_text(sources, name, f"Version {short(version.version)}")) if name else None,
        "check": checked(sources, None),
    }


def tests_context(sources: Sources, against: Sources | None) -> dict[str, Any]:
    """Return what a tests page shows: one row per test case, or the load errors."""
    check = checked(sources, against)
    return {"check": check, "rows": case_rows(check.results)}
