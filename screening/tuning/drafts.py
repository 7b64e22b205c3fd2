"""Drafts of the rule set: start, edit, submit, withdraw, send back, discard; ``checks`` checks them.

A draft holds the full text of every rule file. Saving never loses text: a save names the text it
started from and is refused when somebody saved the same file since; every change of a draft is one
update, refused when somebody changed it since it was read (``update_draft``). ``publishing`` approves
and publishes submitted drafts with the guards here. The locked safety rule cannot be changed by any draft.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm.interfaces import ORMOption

from .. import audit
from ..models import RuleDraft
from ..models import RuleSetVersion
from ..models import User
from ..active_rules import store
from ..engine.loader import Sources
from ..engine.loader import limit_problems
from ..engine.loader import version_of
from .checks import Check
from .checks import check_draft
from .checks import check_sources
from .errors import TuningConflict
from .errors import TuningForbidden
from .errors import TuningInvalid
from .errors import TuningNotFound

EDITING = "editing"
SUBMITTED = "submitted"
PUBLISHED = "published"
DISCARDED = "discarded"
#: Who may write drafts, who may approve them (``publishing.ROLLBACK_ROLES``: who may roll back).
EDITOR_ROLES = ("staff", "admin")
APPROVER_ROLES = ("physician", "admin")
TITLE_MAX = 120
NOTE_MAX = 2000
_FILE_NAME = re.compile(r"^(?:[a-z0-9][a-z0-9_-]{0,40}/)?[a-z0-9][a-z0-9_-]{0,60}\.yaml$")


def digest(text: str) -> str:
    """Return the hash a save names for the text it started from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_text(text: str) -> str:
    """Return file text as stored: Unix line ends, ending in one newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n" if text.strip() else ""


def get_draft(session: orm.Session, draft_id: int, *, options: Sequence[ORMOption] = ()) -> RuleDraft:
    """Return a draft or raise TuningNotFound; ``options`` (such as ``load_only``) say what to read."""
    draft = session.get(RuleDraft, draft_id, options=options)
    if draft is None:
        raise TuningNotFound(f"There is no draft number {draft_id}.")
    return draft


def list_drafts(session: orm.Session, *, include_closed: bool = False) -> list[RuleDraft]:
    """Return drafts, newest change first; open ones (editing, submitted) unless ``include_closed``."""
    query = sa.select(RuleDraft).order_by(RuleDraft.updated_at.desc(), RuleDraft.id.desc())
    if not include_closed:
        query = query.where(RuleDraft.status.in_((EDITING, SUBMITTED)))
    return list(session.scalars(query))


def start_draft(
    session: orm.Session,
    *,
    title: str,
    user: User,
    now: datetime,
    sources: Sources | None = None,
    origin: str = "browser",
) -> RuleDraft:
    """Start a draft from the active version (or from ``sources``, for files submitted from disk)."""
    require_role(user, EDITOR_ROLES, "write rule drafts")
    title = _clean_title(title)
    current = store.active(session)
    if current is None:
        raise TuningConflict("No rule set is active yet, so there is nothing to start a draft from.")
    draft = RuleDraft(
        title=title,
        base_version_id=current.version.id,
        sources=dict(sources if sources is not None else current.version.sources),
        status=EDITING,
        origin=origin,
        revision=1,
        created_at=now,
        created_by_id=user.id,
        updated_at=now,
        updated_by_id=user.id,
        editor_ids=[user.id],
    )
    session.add(draft)
    session.flush()
    _audit(session, user, "ruleset.draft_created", draft, now, base=current.version.version)
    return draft


def _clean_title(title: str) -> str:
    """Return a draft title, or raise TuningInvalid."""
    title = " ".join((title or "").split())
    if not title:
        raise TuningInvalid("Give the draft a title: what does it change, and why?")
    if len(title) > TITLE_MAX:
        raise TuningInvalid(f"The title is {len(title)} characters long; keep it to {TITLE_MAX}.")
    return title


def save_file(
    session: orm.Session,
    draft: RuleDraft,
    *,
    name: str,
    text: str,
    started_from: str | None,
    user: User,
    now: datetime,
) -> Check:
    """Save one file of a draft and return the check of the draft as saved.

    Refused if somebody saved that file since ``started_from`` (its digest); ``started_from`` None
    creates a new file, refused if the name is taken. Text beyond the limits of a rule set
    (``engine.loader.limit_problems``) is refused, never stored. Text that does not load is saved, so
    no work is lost, and the check names its errors. The text is untrusted, so it is checked before the
    write: no database lock is held while it is parsed and tested, and the write is one short update.
    """
    require_role(user, EDITOR_ROLES, "edit rule drafts")
    require_status(draft, EDITING, "edited")
    name = check_file_name(name)
    text = normalize_text(text)
    current = draft.sources.get(name)
    if started_from is None and current is not None:
        raise TuningConflict(f"{name} already exists in this draft; open it to edit it.")
    if started_from is not None and (current is None or digest(current) != started_from):
        raise TuningConflict(_conflict_message(session, draft, name))
    sources = {**draft.sources, name: text}
    _require_within_limits(sources, name)
    active = store.active(session)
    check = check_sources(sources, dict(active.version.sources) if active is not None else None)
    update_draft(session, draft, user, now, sources=sources)
    _audit(session, user, "ruleset.draft_saved", draft, now, file=name, revision=draft.revision)
    return check


def _require_within_limits(sources: Sources, name: str) -> None:
    """Raise TuningInvalid when the files of a draft, with ``name`` as saved, are too large to check."""
    problems = limit_problems(sources)
    if problems:
        first = next((problem for problem in problems if problem.file == name), problems[0])
        raise TuningInvalid(f"{name} was not saved: {first.message}.")


def _conflict_message(session: orm.Session, draft: RuleDraft, name: str) -> str:
    """Explain a refused save: who saved the file since, and when."""
    who = session.get(User, draft.updated_by_id)
    by = who.email if who else "somebody"
    return (
        f"{name} was changed after you opened it (the draft's last change: {by}, "
        f"{draft.updated_at:%Y-%m-%d %H:%M} UTC), so your save was refused to keep that edit."
    )


def remove_file(
    session: orm.Session, draft: RuleDraft, *, name: str, started_from: str, user: User, now: datetime
) -> None:
    """Remove a file from a draft, refused if it changed since ``started_from``."""
    require_role(user, EDITOR_ROLES, "edit rule drafts")
    require_status(draft, EDITING, "edited")
    current = draft.sources.get(name)
    if current is None:
        raise TuningNotFound(f"This draft has no file {name}.")
    if digest(current) != started_from:
        raise TuningConflict(_conflict_message(session, draft, name))
    sources = {key: value for key, value in draft.sources.items() if key != name}
    update_draft(session, draft, user, now, sources=sources)
    _audit(session, user, "ruleset.draft_file_removed", draft, now, file=name, revision=draft.revision)


def check_file_name(name: str) -> str:
    """Return a valid rule file name or raise TuningInvalid naming the rule."""
    name = (name or "").strip()
    if not _FILE_NAME.match(name):
        raise TuningInvalid(
            f"{name!r} is not a rule file name: use lower-case letters, digits, - and _, ending in .yaml "
            "(one folder level allowed, as in tables/doses.yaml)."
        )
    return name


def update_draft(session: orm.Session, draft: RuleDraft, user: User, now: datetime, **values: object) -> None:
    """Change a draft only if nobody changed it since it was read; raise TuningConflict otherwise.

    Only a change of the files makes ``user`` one of its editors (who may not approve it): a reviewer
    who sends it back, or anyone who submits or withdraws it, wrote nothing.
    """
    editors = sorted({*draft.editor_ids, user.id}) if "sources" in values else list(draft.editor_ids)
    changed = session.execute(
        sa.update(RuleDraft)
        .where(RuleDraft.id == draft.id, RuleDraft.revision == draft.revision)
        .values(revision=draft.revision + 1, updated_at=now, updated_by_id=user.id, editor_ids=editors, **values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise TuningConflict("Somebody changed this draft at the same moment; reopen it and try again.")
    session.refresh(draft)


def submit(session: orm.Session, draft: RuleDraft, *, user: User, now: datetime) -> Check:
    """Send a draft for approval: it must load, pass all its tests and leave the safety rule alone."""
    require_role(user, EDITOR_ROLES, "submit rule drafts")
    require_status(draft, EDITING, "submitted")
    current = require_current_base(session, draft)
    if version_of(dict(draft.sources)) == current.version.version:
        raise TuningInvalid("This draft has the same files as the active version: there is nothing to submit.")
    check = check_draft(session, draft)
    require_publishable(check)
    update_draft(
        session, draft, user, now, status=SUBMITTED, submitted_at=now, submitted_by_id=user.id, review_note=None
    )
    _audit(
        session, user, "ruleset.draft_submitted", draft, now, version=check.ruleset.version if check.ruleset else None
    )
    return check


def require_current_base(session: orm.Session, draft: RuleDraft) -> store.Active:
    """Return the active version; refuse a draft started from another one, whose publication would undo it."""
    current = store.active(session)
    if current is None:
        raise TuningConflict("No rule set is active yet.")
    if current.version.id != draft.base_version_id:
        base = session.get(RuleSetVersion, draft.base_version_id)
        started = base.version[:15] if base else "an earlier version"
        raise TuningConflict(
            f"The active version changed since this draft started (from {started}; the active one is now "
            f"{current.version.version[:15]}). Publishing the draft would undo that change: start a new draft from "
            "the active version and make this draft's change there (Diff shows what it is)."
        )
    return current


def require_publishable(check: Check) -> None:
    """Raise TuningInvalid naming every problem keeping a checked draft from publication."""
    if not check.publishable:
        raise TuningInvalid(
            f"This draft cannot be published yet ({len(check.problems)} problem(s)): " + " | ".join(check.problems[:5])
        )


def withdraw(session: orm.Session, draft: RuleDraft, *, user: User, now: datetime) -> None:
    """Take a submitted draft back for more editing."""
    require_role(user, EDITOR_ROLES, "withdraw rule drafts")
    require_status(draft, SUBMITTED, "withdrawn")
    update_draft(session, draft, user, now, status=EDITING, submitted_at=None, submitted_by_id=None)
    _audit(session, user, "ruleset.draft_withdrawn", draft, now)


def send_back(session: orm.Session, draft: RuleDraft, *, user: User, note: str, now: datetime) -> None:
    """Return a submitted draft to its authors with the reviewer's reason."""
    require_role(user, APPROVER_ROLES, "review rule drafts")
    require_status(draft, SUBMITTED, "sent back")
    note = (note or "").strip()
    if not note:
        raise TuningInvalid("Say why the draft goes back, so its authors know what to change.")
    if len(note) > NOTE_MAX:
        raise TuningInvalid(f"The note is {len(note)} characters long; keep it to {NOTE_MAX}.")
    update_draft(session, draft, user, now, status=EDITING, reviewed_at=now, reviewed_by_id=user.id, review_note=note)
    _audit(session, user, "ruleset.draft_sent_back", draft, now)


def discard(session: orm.Session, draft: RuleDraft, *, user: User, now: datetime) -> None:
    """Give up a draft that was never published; it stays readable."""
    require_role(user, EDITOR_ROLES, "discard rule drafts")
    if draft.status not in (EDITING, SUBMITTED):
        raise TuningConflict(f"This draft is {draft.status}; only an open draft can be discarded.")
    update_draft(session, draft, user, now, status=DISCARDED)
    _audit(session, user, "ruleset.draft_discarded", draft, now)


def require_role(user: User, roles: tuple[str, ...], doing: str) -> None:
    """Raise TuningForbidden unless ``user`` has one of ``roles``."""
    if user.role not in roles:
        raise TuningForbidden(f"Your role ({user.role}) cannot {doing}.")


def require_status(draft: RuleDraft, status: str, doing: str) -> None:
    """Raise TuningConflict unless the draft is in ``status``."""
    if draft.status != status:
        raise TuningConflict(f"This draft is {draft.status}, so it cannot be {doing}.")


def _audit(session: orm.Session, user: User, action: str, draft: RuleDraft, now: datetime, **details: object) -> None:
    """Record a draft step; details are identifiers only."""
    audit.record(
        session,
        actor=f"user:{user.id}",
        action=action,
        subject_type="rule_draft",
        subject_id=draft.id,
        at=now,
        details={key: value for key, value in details.items() if isinstance(value, str | int | bool | type(None))},
    )
