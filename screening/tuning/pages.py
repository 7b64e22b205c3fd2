"""What the rule-tuning pages show, ready for the templates: versions, workers, drafts, tests, editor lines.

Read-only helpers over ``drafts`` and ``active_rules.store``; nothing here changes the database.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from ..models import RuleDraft
from ..models import RulesWorker
from ..models import RuleSetActivation
from ..models import RuleSetVersion
from ..models import User
from ..active_rules import store
from ..engine.cases import CaseResult
from ..engine.loader import Sources
from ..engine.loader import version_of
from ..engine.model import RuleError
from . import dry_run_store
from . import checks
from . import drafts
from .diff import diff_file
from .diff import diff_sources
from .errors import TuningError
from .errors import TuningInvalid
from .errors import TuningNotFound
from .publishing import may_approve
from .reviewed import draft_version

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
KIND_LABELS = {"bootstrap": "First start from the files", "publish": "Published", "rollback": "Rolled back"}
STATUS_LABELS = {
    drafts.EDITING: "Being edited",
    drafts.SUBMITTED: "Waiting for approval",
    drafts.PUBLISHED: "Published",
    drafts.DISCARDED: "Discarded",
}
#: A new file starts as a valid, empty rule file.
NEW_FILE_TEXT = "rules: []\n"
#: The ``started_from`` value of a form that creates its file.
NEW_FILE = "new"
_SIDE = re.compile(r"^([vd])([0-9]{1,9})$")
_CHECKS_KEPT = 16
_checks: OrderedDict[tuple[str, str | None], checks.Check] = OrderedDict()
_checks_lock = threading.Lock()


# --- Words and people ----------------------------------------------------------------------------


def utc(moment: datetime | None) -> str:
    """Return a timestamp in UTC, to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def short(version: str | None) -> str:
    """Return the first 12 digits of a version hash, as people quote it."""
    return (version or "").removeprefix("sha256:")[:12]


def plural(count: int, word: str) -> str:
    """Return "1 problem", "2 problems"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def user_emails(session: orm.Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Return the email of each user id given."""
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = session.execute(sa.select(User.id, User.email).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def actor_id(actor: str | None) -> int | None:
    """Return the user id of an actor written "user:<id>", else None."""
    if actor and actor.startswith("user:") and actor[5:].isdigit():
        return int(actor[5:])
    return None


def actor_name(actor: str | None, emails: Mapping[int, str]) -> str:
    """Return who an actor is, as a person reads it."""
    if actor is None:
        return ""
    if actor == "system":
        return "the system"
    user_id = actor_id(actor)
    if user_id is None:
        return actor
    return emails.get(user_id, f"user {user_id} (deleted)")


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


# --- Drafts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    """One file of a draft: whether it differs from the base version, and its load errors."""

    name: str
    state: str
    errors: int


FILE_STATES = {"changed": "Changed", "added": "Added", "removed": "Removed", "unchanged": "Unchanged"}


def draft_files(sources: Mapping[str, str], base: Mapping[str, str], check: checks.Check) -> list[FileRow]:
    """Return every file of a draft and of its base version, marked changed, added, removed or unchanged."""
    rows = []
    for name in sorted({*sources, *base}):
        if name not in sources:
            state = "removed"
        elif name not in base:
            state = "added"
        else:
            state = "unchanged" if sources[name] == base[name] else "changed"
        rows.append(FileRow(name, state, sum(len(errors) for errors in check.errors_in(name).values())))
    return rows


def draft_people(session: orm.Session, draft: RuleDraft) -> dict[int, str]:
    """Return the email of everybody named on a draft."""
    return user_emails(
        session,
        [draft.created_by_id, draft.updated_by_id, draft.submitted_by_id, draft.reviewed_by_id, *draft.editor_ids],
    )


def drafts_people(session: orm.Session, rows: Iterable[RuleDraft]) -> dict[int, str]:
    """Return the email of the author and last editor of each draft."""
    return user_emails(session, [id_ for draft in rows for id_ in (draft.created_by_id, draft.updated_by_id)])


def other_file_errors(check: checks.Check, name: str) -> dict[str, int]:
    """Return how many load errors each other file has."""
    counts: dict[str, int] = {}
    for error in check.errors:
        if error.file != name:
            counts[error.file] = counts.get(error.file, 0) + 1
    return dict(sorted(counts.items()))


# --- Editor ----------------------------------------------------------------------------------------


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


def line_errors_beyond(errors: Mapping[int, list[RuleError]], lines: int) -> list[RuleError]:
    """Return errors whose line is not a line of the text (the end of the file, or line 0)."""
    return [error for number, found in sorted(errors.items()) if not 1 <= number <= lines for error in found]


def started_from(text: str | None) -> str:
    """Return the ``started_from`` value of an editor showing ``text`` (NEW_FILE when the file is gone)."""
    return drafts.digest(text) if text is not None else NEW_FILE


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


# --- Comparing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a stored version ("v<id>") or a draft ("d<id>")."""

    ref: str
    label: str
    sources: Sources


def side_of(session: orm.Session, ref: str | None, current: store.Active | None) -> Side:
    """Return the version or draft ``ref`` names; TuningInvalid when it is malformed, TuningNotFound when unknown."""
    found = _SIDE.match((ref or "").strip())
    if found is None:
        raise TuningInvalid(
            f"{(ref or '')[:40]!r} does not name a version or a draft: use v and a version number (v3) "
            "or d and a draft number (d2), or pick them from the lists."
        )
    kind, number = found.group(1), int(found.group(2))
    if kind == "v":
        version = get_version(session, number)
        active = " (active)" if current is not None and current.version.id == version.id else ""
        return Side(f"v{number}", f"version {short(version.version)}{active}", dict(version.sources))
    draft = drafts.get_draft(session, number)
    label = f"draft {number} (version {short(draft_version(draft))}): {draft.title}"
    return Side(f"d{number}", label, dict(draft.sources))


def side_choices(session: orm.Session, current: store.Active | None) -> list[tuple[str, str]]:
    """Return (value, label) of every stored version (newest first) and every draft, for the diff form."""
    active_id = current.version.id if current is not None else None
    versions = session.scalars(sa.select(RuleSetVersion).order_by(RuleSetVersion.id.desc())).all()
    choices = [
        (
            f"v{version.id}",
            f"Version {short(version.version)}, stored {utc(version.activated_at)}"
            + (" (active)" if version.id == active_id else ""),
        )
        for version in versions
    ]
    for draft in drafts.list_drafts(session, include_closed=True):
        choices.append((f"d{draft.id}", f"Draft {draft.id}: {draft.title} ({STATUS_LABELS.get(draft.status, '')})"))
    return choices


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


def draft_context(session: orm.Session, draft: RuleDraft, user: User, *, two_person: bool) -> dict[str, Any]:
    """Return what a draft's page shows: people, the version of its text, files against the base version, the check,
    the steps open (the approve and publish forms name ``version`` as the text reviewed)."""
    current = store.active(session)
    base = session.get(RuleSetVersion, draft.base_version_id)
    base_sources = dict(base.sources) if base is not None else {}
    check = checked(dict(draft.sources), dict(current.version.sources) if current else None)
    published = session.get(RuleSetVersion, draft.published_version_id) if draft.published_version_id else None
    return {
        "draft": draft,
        "version": draft_version(draft),
        "base": base,
        "current": current,
        "base_is_active": current is not None and base is not None and current.version.id == base.id,
        "published": published,
        "people": draft_people(session, draft),
        "files": draft_files(dict(draft.sources), base_sources, check),
        "file_states": FILE_STATES,
        "check": check,
        "summary": check_summary(check),
        "refusal": may_approve(draft, user, two_person=two_person),
        "two_person": two_person,
    }


def editor_context(
    session: orm.Session,
    draft: RuleDraft,
    name: str,
    form: Any,
    *,
    may_edit: bool,
    message: str | None = None,
    theirs: str | None = None,
    conflict: bool = False,
) -> dict[str, Any]:
    """Return what the editor shows: the text in the form, its lines marked with the errors of that very text."""
    text = form.text.data or ""
    sources = {**dict(draft.sources), name: drafts.normalize_text(text)}
    check = checked(sources, active_sources(session))
    errors = check.errors_in(name)
    lines = numbered(text.replace("\r\n", "\n").replace("\r", "\n"), errors)
    return {
        "draft": draft,
        "name": name,
        "form": form,
        "editable": draft.status == drafts.EDITING and may_edit,
        "lines": lines,
        "rows": len(lines) + 3,
        "errors": [error for number in sorted(errors) for error in errors[number]],
        "unplaced": line_errors_beyond(errors, len(lines)),
        "other_errors": other_file_errors(check, name),
        "check": check,
        "summary": check_summary(check),
        "message": message,
        "conflict": conflict,
        "theirs": theirs,
        "their_lines": numbered(theirs) if theirs is not None else None,
        "compared": diff_file(name, theirs, drafts.normalize_text(text)) if conflict and theirs is not None else None,
        "in_draft": name in draft.sources,
    }


def diff_context(session: orm.Session, left: str | None, right: str | None) -> dict[str, Any]:
    """Return what the diff page shows: the form, and the comparison or why there is none (with a status)."""
    current = store.active(session)
    context: dict[str, Any] = {
        "choices": side_choices(session, current),
        "left": left if left is not None else (f"v{current.version.id}" if current else ""),
        "right": right or "",
        "sides": None,
        "diff": None,
        "refused": None,
        "status": 200,
    }
    if not left and not right:
        return context
    try:
        sides = (side_of(session, left, current), side_of(session, right, current))
    except TuningError as error:
        return {**context, "refused": error.message, "status": 404 if isinstance(error, TuningNotFound) else 400}
    return {**context, "sides": sides, "diff": diff_sources(sides[0].sources, sides[1].sources)}
