"""What a draft's page and its editor show: the draft's files against its base version, its people, its check,
and the text being edited with its lines marked with their load errors.

Read-only helpers over ``drafts`` and ``active_rules.store``; nothing here changes the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import orm

from ..models import RuleDraft
from ..models import RuleSetVersion
from ..models import User
from ..active_rules import store
from ..engine.model import RuleError
from . import checks
from . import drafts
from .diff import diff_file
from .pages import active_sources
from .pages import check_summary
from .pages import checked
from .pages import numbered
from .wording import draft_people
from .reviewed import draft_version
from . import publishing

#: A new file starts as a valid, empty rule file.
NEW_FILE_TEXT = "rules: []\n"
#: The ``started_from`` value of a form that creates its file.
NEW_FILE = "new"


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


def other_file_errors(check: checks.Check, name: str) -> dict[str, int]:
    """Return how many load errors each other file has."""
    counts: dict[str, int] = {}
    for error in check.errors:
        if error.file != name:
            counts[error.file] = counts.get(error.file, 0) + 1
    return dict(sorted(counts.items()))


# --- Editor ----------------------------------------------------------------------------------------


def line_errors_beyond(errors: Mapping[int, list[RuleError]], lines: int) -> list[RuleError]:
    """Return errors whose line is not a line of the text (the end of the file, or line 0)."""
    return [error for number, found in sorted(errors.items()) if not 1 <= number <= lines for error in found]


def started_from(text: str | None) -> str:
    """Return the ``started_from`` value of an editor showing ``text`` (NEW_FILE when the file is gone)."""
    return drafts.digest(text) if text is not None else NEW_FILE


# --- Page contexts ---------------------------------------------------------------------------------


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
        "refusal": publishing.may_approve(draft, user, two_person=two_person),
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
