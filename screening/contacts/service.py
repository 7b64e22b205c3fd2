"""Store, read, rotate and purge contact details: plain functions over an explicit session; the caller commits.

Only ``read_contact`` is for people (physicians and admins), and every call is audited with the submission's
reference and the viewer, never the details. ``consented_email`` is for the messages the clinic sends: it
gives the address only when the patient consented, and neither audits nor logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..errors import Invalid
from ..models import Draft
from ..models import ReviewAction
from ..models import Submission
from ..models import SubmissionContact
from ..models import User
from . import crypto
from .details import ContactDetails

#: Contact details of a closed submission are deleted this many days after its decision (the default).
RETENTION_SETTING = "CONTACT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90
#: A submission is closed once a physician decided it (status "decided"); reopening opens it again. One whose
#: outcome needs no physician is closed from the start, while no physician has taken it up.
CLOSED_STATUS = "decided"
UNTOUCHED_STATUS = "open"


def store_contact(
    session: orm.Session, config: Mapping[str, Any], submission: Submission, details: ContactDetails
) -> SubmissionContact:
    """Add the encrypted details of ``submission`` (its id must be flushed)."""
    row = SubmissionContact(
        submission_id=submission.id,
        ciphertext=crypto.seal(config, details.to_json()),
        key_id=crypto.current_key_id(config),
        created_at=submission.submitted_at,
    )
    session.add(row)
    return row


def _row(session: orm.Session, submission_id: int) -> SubmissionContact | None:
    return session.scalar(sa.select(SubmissionContact).where(SubmissionContact.submission_id == submission_id))


def _details(config: Mapping[str, Any], row: SubmissionContact | None) -> ContactDetails | None:
    return None if row is None else ContactDetails.from_json(crypto.unseal(config, row.ciphertext))


def has_contact(session: orm.Session, submission_id: int) -> bool:
    """Return True when the patient of a submission gave contact details (nothing is decrypted)."""
    return _row(session, submission_id) is not None


def read_contact(
    session: orm.Session,
    config: Mapping[str, Any],
    submission_id: int,
    *,
    viewer: User,
    now: datetime,
    remote_addr: str | None = None,
) -> ContactDetails | None:
    """Return a submission's contact details for ``viewer`` (None when declined), auditing the view."""
    reference = session.scalar(sa.select(Submission.reference).where(Submission.id == submission_id))
    details = _details(config, _row(session, submission_id))
    audit.record(
        session,
        actor=f"user:{viewer.id}",
        action="contact.viewed",
        subject_type="submission",
        subject_id=submission_id,
        at=now,
        remote_addr=remote_addr,
        details={"reference": reference},
    )
    return details


def consented_details(session: orm.Session, config: Mapping[str, Any], submission_id: int) -> ContactDetails | None:
    """Return the patient's details when they consented to be contacted, else None; the caller audits the use."""
    details = _details(config, _row(session, submission_id))
    return details if details is not None and details.consent else None


def consented_email(session: orm.Session, config: Mapping[str, Any], submission_id: int) -> str | None:
    """Return the patient's e-mail address when they consented to be contacted and gave one, else None."""
    details = consented_details(session, config, submission_id)
    return details.email if details is not None else None


def rotate_keys(session: orm.Session, config: Mapping[str, Any]) -> int:
    """Encrypt again with the newest key every stored detail under another key; return how many rows changed.

    Drafts' sealed contact steps are re-encrypted too (they are few, and expire), and counted.
    """
    current = crypto.current_key_id(config)
    stale = session.scalars(
        sa.select(SubmissionContact).where(
            sa.or_(SubmissionContact.key_id.is_(None), SubmissionContact.key_id != current)
        )
    ).all()
    for row in stale:
        row.ciphertext = crypto.reseal(config, row.ciphertext)
        row.key_id = current
    drafts = session.scalars(sa.select(Draft).where(Draft.contact_sealed.is_not(None))).all()
    changed = 0
    for draft in drafts:
        sealed = draft.contact_sealed or ""
        if not _sealed_with_newest(config, sealed):
            draft.contact_sealed = crypto.reseal(config, sealed)
            changed += 1
    session.flush()
    return len(stale) + changed


def _sealed_with_newest(config: Mapping[str, Any], token: str) -> bool:
    """Return True when the newest key alone decrypts ``token``."""
    newest = {crypto.KEYS: crypto.parse_keys(config[crypto.KEYS])[:1]}
    try:
        crypto.unseal(newest, token)
    except crypto.ContactKeyError:
        return False
    return True


def retention_days(config: Mapping[str, Any]) -> int:
    """Return the retention setting; refuse one that is not a whole number of days, 1 or more."""
    value = config.get(RETENTION_SETTING, DEFAULT_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise Invalid(f"SCREENING_{RETENTION_SETTING} must be a whole number of days, not {value!r}")
    days = int(value)
    if days < 1:
        raise Invalid(f"SCREENING_{RETENTION_SETTING} must be 1 day or more, not {days}")
    return days


def purge_closed(session: orm.Session, config: Mapping[str, Any], now: datetime, *, actor: str = "cli") -> int:
    """Delete the details of submissions closed more than the retention ago; audit the count only.

    Closed: decided that long ago, or sent that long ago with an outcome that needs no physician and nobody
    working on it. Details of a submission still waiting for a physician are kept, however old.
    """
    days = retention_days(config)
    cutoff = now - timedelta(days=days)
    decided_at = (
        sa.select(ReviewAction.submission_id, sa.func.max(ReviewAction.at).label("at"))
        .where(ReviewAction.action == "decide")
        .group_by(ReviewAction.submission_id)
        .subquery()
    )
    decided = (
        sa.select(Submission.id)
        .join(decided_at, decided_at.c.submission_id == Submission.id)
        .where(Submission.status == CLOSED_STATUS, decided_at.c.at <= cutoff)
    )
    needing_nobody = sa.select(Submission.id).where(
        Submission.needs_action.is_(False), Submission.status == UNTOUCHED_STATUS, Submission.submitted_at <= cutoff
    )
    closed = sa.union(decided, needing_nobody)
    result = session.execute(
        sa.delete(SubmissionContact)
        .where(SubmissionContact.submission_id.in_(closed))
        .execution_options(synchronize_session=False)
    )
    count: int = getattr(result, "rowcount", 0)
    audit.record(
        session,
        actor=actor,
        action="contact.purged",
        subject_type="submission_contact",
        subject_id=None,
        at=now,
        details={"count": count, "retention_days": days},
    )
    return count
