"""Publishing rule drafts: approve (two-person rule), publish in one step, roll back, write the files.

An approval names the text it reviewed (``reviewed.draft_version``, the hash that names the version it
publishes as) and is refused when the draft holds other text now. Publishing stores the version, makes
it the active one for every worker (``active_rules.store``) and audits who wrote it and who approved it.
A submitted draft comes from ``drafts``, whose guards and update this uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import orm

from .. import audit
from ..models import RuleDraft
from ..models import RuleSetActivation
from ..models import RuleSetVersion
from ..models import User
from ..active_rules import store
from .checks import check_draft
from .checks import check_sources
from .drafts import APPROVER_ROLES
from .drafts import EDITOR_ROLES
from .drafts import PUBLISHED
from .drafts import SUBMITTED
from .drafts import require_current_base
from .drafts import require_publishable
from .drafts import require_role
from .drafts import require_status
from .drafts import submit
from .drafts import update_draft
from .reviewed import draft_version
from .reviewed import require_reviewed
from .errors import TuningConflict
from .errors import TuningForbidden
from .errors import TuningInvalid

log = logging.getLogger(__name__)

#: Who may roll back.
ROLLBACK_ROLES = ("staff", "admin")


@dataclass(frozen=True)
class Published:
    """The result of publishing: the activation, and whether the files on disk were rewritten."""

    activation: RuleSetActivation
    version: RuleSetVersion
    files_error: str | None


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
    require_status(draft, SUBMITTED, "approved")
    refusal = may_approve(draft, user, two_person=two_person)
    if refusal:
        raise TuningForbidden(refusal)
    require_reviewed(session, draft, reviewed, user=user)
    require_current_base(session, draft)
    check = check_draft(session, draft)
    require_publishable(check)
    stored = store.store_version(session, dict(draft.sources), origin=f"draft:{draft.id}", now=now)
    current = store.active(session)
    if current is not None and current.version.id == stored.id:
        raise TuningConflict("This draft is exactly the active rule set; there is nothing to publish.")
    author = f"user:{draft.submitted_by_id}"
    approver = f"user:{user.id}"
    update_draft(
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
    require_role(user, ROLLBACK_ROLES, "roll back the rules")
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
