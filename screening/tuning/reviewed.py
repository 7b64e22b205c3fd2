"""An approval is bound to the text reviewed: the version of a draft's text, and the refusal of a changed one.

A page or a command shows the approver ``draft_version``; the approval names it (the hash, or at least
VERSION_PREFIX_MIN of its first digits), and ``require_reviewed`` refuses it when the draft holds other
text now (ReviewOutdated, audited by ``record_refused_approval``).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..engine.loader import version_of
from ..models import AuditEvent
from ..models import RuleDraft
from ..models import User
from .errors import ReviewOutdated
from .errors import TuningConflict
from .errors import TuningInvalid

log = logging.getLogger(__name__)

#: An approval may name the reviewed version by this many of its first hex digits, as other commands take versions.
VERSION_PREFIX_MIN = 6
HASH_PREFIX = "sha256:"
CHANGED_SINCE_REVIEW = "This draft changed after you opened it: review it again."


def draft_version(draft: RuleDraft) -> str:
    """Return the version of a draft's text now: the hash it publishes as, and what an approval names."""
    return version_of(dict(draft.sources))


def require_reviewed(session: orm.Session, draft: RuleDraft, reviewed: str, *, user: User) -> None:
    """Refuse an approval unless ``reviewed`` names the draft's text now; see ``approve``.

    A prefix must name one text: when two texts this draft was submitted with start with it (only a
    deliberate search finds such a pair), it is refused too, so a longer one must be given.
    """
    wanted = _reviewed_digits(reviewed)
    version = draft_version(draft)
    if not version.startswith(HASH_PREFIX + wanted):
        log.warning(
            "approval of draft %s by user %s refused: it was reviewed as %s and is %s now",
            draft.id,
            user.id,
            HASH_PREFIX + wanted,
            version,
        )
        raise ReviewOutdated(
            f"{CHANGED_SINCE_REVIEW} You opened version {wanted[:12]}; it is now {_short(version)}. "
            "Nothing was published.",
            draft_id=draft.id,
            reviewed=HASH_PREFIX + wanted,
            version=version,
        )
    texts = {version, *_submitted_versions(session, draft)}
    if len([text for text in texts if text.startswith(HASH_PREFIX + wanted)]) > 1:
        raise TuningConflict(
            f"More than one text this draft was submitted with starts with {HASH_PREFIX}{wanted}: give more "
            f"digits of the version you reviewed (this draft's text is now {version}). Nothing was published."
        )


def _reviewed_digits(reviewed: str) -> str:
    """Return the hex digits of a reviewed version as given (hash or prefix), or raise TuningInvalid."""
    text = (reviewed or "").strip()
    if not text:
        raise TuningInvalid(
            "This approval did not say which text of the draft you reviewed, so nothing was published: "
            "open the draft again, review it and approve it there."
        )
    wanted = text.lower().removeprefix(HASH_PREFIX)
    if not VERSION_PREFIX_MIN <= len(wanted) <= 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise TuningInvalid(
            f"{text[:80]!r} is not a version of the draft: give its hash or at least {VERSION_PREFIX_MIN} of "
            "its first digits. Nothing was published."
        )
    return wanted


def _submitted_versions(session: orm.Session, draft: RuleDraft) -> set[str]:
    """Return the version of every text the draft was submitted with, from its audit events."""
    details = session.scalars(
        sa.select(AuditEvent.details).where(
            AuditEvent.action == "ruleset.draft_submitted",
            AuditEvent.subject_type == "rule_draft",
            AuditEvent.subject_id == draft.id,
        )
    )
    return {str(found["version"]) for found in details if isinstance(found, dict) and found.get("version")}


def _short(version: str) -> str:
    """Return the first 12 digits of a version hash, as pages show it."""
    return version.removeprefix(HASH_PREFIX)[:12]


def record_refused_approval(
    session: orm.Session, refused: ReviewOutdated, *, user: User, now: datetime, remote_addr: str | None = None
) -> None:
    """Audit an approval refused because the draft changed since it was reviewed; the caller commits.

    The refused step's own transaction is rolled back first, so this is a transaction of its own.
    """
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="ruleset.approval_refused",
        subject_type="rule_draft",
        subject_id=refused.draft_id,
        at=now,
        remote_addr=remote_addr,
        details={"reviewed": refused.reviewed, "version": refused.version},
    )
