"""Drafts of the rule set: edit, submit, approve (two-person rule), publish, roll back; ``checks`` checks them.

A draft holds the full text of every rule file. Saving never loses text: a save names the text it
started from and is refused when somebody saved the same file since. An approval names the text
it reviewed (``draft_version``, the hash that names the version it publishes as) and is refused
when the draft holds other text now. Publishing stores the version, makes it the active one for
every worker (``active_rules.store``) and audits who wrote it and who approved it. The locked safety
rule cannot be changed by any draft.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..models import RuleDraft
from ..models import RuleSetActivation
from ..models import RuleSetVersion
from ..models import User
from ..active_rules import store
from ..engine.loader import Sources
from ..engine.loader import limit_problems
from ..engine.loader import version_of
from .checks import Check
from .checks import check_draft
from .checks import check_sources
from .reviewed import draft_version
from .reviewed import require_reviewed
from .errors import TuningConflict
from .errors import TuningForbidden
from .errors import TuningInvalid
from .errors import TuningNotFound

log = logging.getLogger(__name__)

EDITING = "editing"
SUBMITTED = "submitted"
PUBLISHED = "published"
DISCARDED = "discarded"
#: Who may write drafts, who may approve them, who may roll back.
EDITOR_ROLES = ("staff", "admin")
APPROVER_ROLES = ("physician", "admin")
ROLLBACK_ROLES = ("staff", "admin")
TITLE_MAX = 120
NOTE_MAX = 2000
_FILE_NAME = re.compile(r"^(?:[a-z0-9][a-z0-9_-]{0,40}/)?[a-z0-9][a-z0-9_-]{0,60}\.yaml$")


@dataclass(frozen=True)
class Published:
    """The result of publishing: the activation, and whether the files on disk were rewritten."""

    activation: RuleSetActivation
    version: RuleSetVersion
    files_error: str | None


def digest(text: str) -> str:
    """Return the hash a save names for the text it started from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_text(text: str) -> str:
    """Return file text as stored: Unix line ends, ending in one newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n" if text.strip() else ""


def get_draft(session: orm.Session, draft_id: int) -> RuleDraft:
    """Return a draft or raise TuningNotFound."""
    draft = session.get(RuleDraft, draft_id)
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
    _require_role(user, EDITOR_ROLES, "write rule drafts")
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
    _require_role(user, EDITOR_ROLES, "edit rule drafts")
    _require_status(draft, EDITING, "edited")
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
    _update(session, draft, user, now, sources=sources)
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
    _require_role(user, EDITOR_ROLES, "edit rule drafts")
    _require_status(draft, EDITING, "edited")
    current = draft.sources.get(name)
    if current is None:
        raise TuningNotFound(f"This draft has no file {name}.")
    if digest(current) != started_from:
        raise TuningConflict(_conflict_message(session, draft, name))
    sources = {key: value for key, value in draft.sources.items() if key != name}
    _update(session, draft, user, now, sources=sources)
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


def _update(session: orm.Session, draft: RuleDraft, user: User, now: datetime, **values: object) -> None:
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
    _require_role(user, EDITOR_ROLES, "submit rule drafts")
    _require_status(draft, EDITING, "submitted")
    current = _require_current_base(session, draft)
    if version_of(dict(draft.sources)) == current.version.version:
        raise TuningInvalid("This draft has the same files as the active version: there is nothing to submit.")
    check = check_draft(session, draft)
    _require_publishable(check)
    _update(session, draft, user, now, status=SUBMITTED, submitted_at=now, submitted_by_id=user.id, review_note=None)
    _audit(
        session, user, "ruleset.draft_submitted", draft, now, version=check.ruleset.version if check.ruleset else None
    )
    return check


def _require_current_base(session: orm.Session, draft: RuleDraft) -> store.Active:
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


def _require_publishable(check: Check) -> None:
    """Raise TuningInvalid naming every problem keeping a checked draft from publication."""
    if not check.publishable:
        raise TuningInvalid(
            f"This draft cannot be published yet ({len(check.problems)} problem(s)): " + " | ".join(check.problems[:5])
        )


def withdraw(session: orm.Session, draft: RuleDraft, *, user: User, now: datetime) -> None:
    """Take a submitted draft back for more editing."""
    _require_role(user, EDITOR_ROLES, "withdraw rule drafts")
    _require_status(draft, SUBMITTED, "withdrawn")
    _update(session, draft, user, now, status=EDITING, submitted_at=None, submitted_by_id=None)
    _audit(session, user, "ruleset.draft_withdrawn", draft, now)


def send_back(session: orm.Session, draft: RuleDraft, *, user: User, note: str, now: datetime) -> None:
    """Return a submitted draft to its authors with the reviewer's reason."""
    _require_role(user, APPROVER_ROLES, "review rule drafts")
    _require_status(draft, SUBMITTED, "sent back")
    note = (note or "").strip()
    if not note:
        raise TuningInvalid("Say why the draft goes back, so its authors know what to change.")
    if len(note) > NOTE_MAX:
        raise TuningInvalid(f"The note is {len(note)} characters long; keep it to {NOTE_MAX}.")
    _update(session, draft, user, now, status=EDITING, reviewed_at=now, reviewed_by_id=user.id, review_note=note)
    _audit(session, user, "ruleset.draft_sent_back", draft, now)


def discard(session: orm.Session, draft: RuleDraft, *, user: User, now: datetime) -> None:
    """Give up a draft that was never published; it stays readable."""
    _require_role(user, EDITOR_ROLES, "discard rule drafts")
    if draft.status not in (EDITING, SUBMITTED):
        raise TuningConflict(f"This draft is {draft.status}; only an open draft can be discarded.")
    _update(session, draft, user, now, status=DISCARDED)
    _audit(session, user, "ruleset.draft_discarded", draft, now)


def may_approve(draft: RuleDraft, user: User, *, two_person: bool) -> str | None:
    """Return why ``user`` may not approve ``draft``, or None when they may."""
    if two_person:
        if user.role not in APPROVER_ROLES:
            return "Only a physician or an administrator can approve a rule change."
        if user.id in draft.editor_ids or user.id in (draft.created_by_id, draft.submitted_by_id):
            return "A second person must approve: you wrote or submitted this draft."
    elif user.role not in (*APPROVER_ROLES, *EDITOR_ROLES):
        return "You cannot publish rule changes."
    return None


def approve(
    session: orm.Session,
    draft: RuleDraft,
    *,
    user: User,
    now: datetime,
    two_person: bool,
    reviewed: str,
    remote_addr: str | None = None,
) -> Published:
    """Approve and publish a submitted draft: store it, make it active for every worker, audit both people.

    ``reviewed`` is the version of the text the approver was shown (``draft_version``, or at least
    VERSION_PREFIX_MIN of its first digits): a draft that holds other text now is refused with
    ReviewOutdated, to be reviewed again. With ``two_person`` off, the author may publish their own
    submitted draft. The caller commits, then calls ``write_published_files``.
    """
    _require_status(draft, SUBMITTED, "approved")
    refusal = may_approve(draft, user, two_person=two_person)
    if refusal:
        raise TuningForbidden(refusal)
    require_reviewed(session, draft, reviewed, user=user)
    _require_current_base(session, draft)
    check = check_draft(session, draft)
    _require_publishable(check)
    stored = store.store_version(session, dict(draft.sources), origin=f"draft:{draft.id}", now=now)
    current = store.active(session)
    if current is not None and current.version.id == stored.id:
        raise TuningConflict("This draft is exactly the active rule set; there is nothing to publish.")
    author = f"user:{draft.submitted_by_id}"
    approver = f"user:{user.id}"
    _update(
        session,
        draft,
        user,
        now,
        status=PUBLISHED,
        reviewed_at=now,
        reviewed_by_id=user.id,
        published_version_id=stored.id,
    )
    audit.record(
        session,
        actor=approver,
        action="ruleset.approved",
        subject_type="rule_draft",
        subject_id=draft.id,
        at=now,
        remote_addr=remote_addr,
        details={"version": stored.version, "author": author, "two_person": two_person},
    )
    activation = store.activate(
        session,
        stored,
        kind=store.PUBLISH,
        actor=author,
        approved_by=approver if two_person else None,
        draft_id=draft.id,
        now=now,
        remote_addr=remote_addr,
    )
    return Published(activation=activation, version=stored, files_error=None)


def rollback(
    session: orm.Session, version: RuleSetVersion, *, user: User, now: datetime, remote_addr: str | None = None
) -> Published:
    """Make an earlier stored version active again in one step; it must still load and pass its tests."""
    _require_role(user, ROLLBACK_ROLES, "roll back the rules")
    current = store.active(session)
    if current is not None and current.version.id == version.id:
        raise TuningConflict("This version is already the active one.")
    check = check_sources(dict(version.sources), None)
    if not check.publishable:
        raise TuningInvalid("This version no longer loads or passes its tests: " + " | ".join(check.problems[:5]))
    activation = store.activate(
        session, version, kind=store.ROLLBACK, actor=f"user:{user.id}", now=now, remote_addr=remote_addr
    )
    return Published(activation=activation, version=version, files_error=None)


def publish_now(
    session: orm.Session,
    draft: RuleDraft,
    *,
    user: User,
    now: datetime,
    reviewed: str,
    remote_addr: str | None = None,
) -> Published:
    """Submit and publish in one step, for clinics that turned the two-person rule off.

    ``reviewed`` names the text the author was shown, as for ``approve``: a colleague's save since is refused.
    """
    require_reviewed(session, draft, reviewed, user=user)
    submit(session, draft, user=user, now=now)
    version = draft_version(draft)
    return approve(session, draft, user=user, now=now, two_person=False, reviewed=version, remote_addr=remote_addr)


def write_published_files(directory: Path, published: Published) -> Published:
    """Write the published version into the rules directory; report, never raise, when that fails.

    The database is the truth: workers switch whatever happens here. The files are written for
    those who author in git, and so that the files and the active version agree.
    """
    try:
        store.write_files(directory, dict(published.version.sources))
    except (OSError, ValueError) as error:
        log.error("published version %s not written to %s: %s", published.version.version, directory, error)
        return Published(published.activation, published.version, f"{directory}: {error.__class__.__name__}")
    return published


def _require_role(user: User, roles: tuple[str, ...], doing: str) -> None:
    """Raise TuningForbidden unless ``user`` has one of ``roles``."""
    if user.role not in roles:
        raise TuningForbidden(f"Your role ({user.role}) cannot {doing}.")


def _require_status(draft: RuleDraft, status: str, doing: str) -> None:
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
