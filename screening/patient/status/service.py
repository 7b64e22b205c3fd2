"""The patient's private status link: received, under review, or a clinician will contact you.

The link carries a random token; only its sha256 is stored, like the resume token of a draft.
Physician notes reach this page only when the physician marked them for the patient.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from ...models import ReviewAction
from ...models import Submission
from ...review.errors import ReviewNotFound

#: What the patient is told, by the submission's review status.
STATES = ("received", "under_review", "contact")


@dataclass(frozen=True)
class PatientStatus:
    """Where a submission stands, in the terms the patient is shown."""

    reference: str
    submitted_at: datetime
    #: "received" (nobody has looked yet), "under_review" or "contact" (decided: a clinician will contact you).
    state: str
    #: When the state last changed.
    updated_at: datetime
    safety_flag: bool
    #: The notes of the current decision that the physician marked for the patient.
    notes: tuple[str, ...]


def hash_status_token(token: str) -> str:
    """Return the stored form of a status token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_status_token(submission: Submission) -> str:
    """Give ``submission`` a new status link token and return it; only its hash is kept."""
    token = secrets.token_urlsafe(32)  # 256 bits
    submission.status_token_hash = hash_status_token(token)
    return token


def patient_status(session: orm.Session, token: str) -> PatientStatus:
    """Return the status the link with ``token`` shows; raise ReviewNotFound for an unknown token."""
    submission = None
    if token:
        submission = session.scalar(
            sa.select(Submission).where(Submission.status_token_hash == hash_status_token(token))
        )
    if submission is None:
        raise ReviewNotFound("We could not find a submission for this link. Please check that it is complete.")
    actions = session.scalars(
        sa.select(ReviewAction).where(ReviewAction.submission_id == submission.id).order_by(ReviewAction.id)
    ).all()
    return PatientStatus(
        reference=submission.reference,
        submitted_at=submission.submitted_at,
        state=_state(submission, bool(actions)),
        updated_at=actions[-1].at if actions else submission.submitted_at,
        safety_flag=submission.safety_flag,
        notes=_notes_for_patient(submission, actions),
    )


def _state(submission: Submission, reviewed: bool) -> str:
    """Return the patient's state: once a physician has acted, an open case is still under review."""
    if submission.status == "decided":
        return "contact"
    if submission.status == "claimed" or reviewed:
        return "under_review"
    return "received"


def _notes_for_patient(submission: Submission, actions: Sequence[ReviewAction]) -> tuple[str, ...]:
    """Return the note of the current decision when it is marked for the patient.

    A reopened decision may be withdrawn, so its note is not shown any more.
    """
    if submission.status != "decided":
        return ()
    decisions = [action for action in actions if action.action == "decide"]
    latest = decisions[-1] if decisions else None
    if latest is None or not latest.note_for_patient or not latest.note:
        return ()
    return (latest.note,)
