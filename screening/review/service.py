"""What a physician does with a submission: claim, release, take over, decide, reopen.

Each action adds a ReviewAction row and an audit event in the caller's transaction; the automated
Decision is never changed. The submission's queue columns change through one conditional UPDATE
that names the ``row_version`` the action was checked against, so when two physicians act on one
submission at once exactly one wins and the other gets ``ReviewConflict``.

The queue, the detail and the patient's status link are re-exported here: one module for the views.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit
from ..messaging import service as messages
from ..models import ReviewAction
from ..models import Submission
from ..models import User
from .detail import Detail
from .detail import HistoryEntry
from .detail import record_view
from .detail import submission_detail
from .errors import ReviewConflict
from .errors import ReviewForbidden
from .errors import ReviewInvalid
from .errors import ReviewNotFound
from .queue import QueuePage
from .queue import QueueRow
from .queue import outcome_counts
from .queue import queue_page
from ..patient.status.service import PatientStatus
from ..patient.status.service import issue_status_token
from ..patient.status.service import patient_status

__all__ = [
    "CONTACT_RESULTS",
    "DECISIONS",
    "Detail",
    "HistoryEntry",
    "PatientStatus",
    "QueuePage",
    "QueueRow",
    "claim",
    "decide",
    "issue_status_token",
    "outcome_counts",
    "patient_status",
    "queue_page",
    "record_view",
    "release",
    "reopen",
    "submission_detail",
    "take_over",
]

#: What a physician can decide. ``safety_followup_done`` only for submissions with a safety flag.
DECISIONS = ("consult", "decline", "request_info", "safety_followup_done")
SAFETY_FOLLOWUP = "safety_followup_done"
#: What came of the attempt to contact the patient, which ``safety_followup_done`` records: code, label.
CONTACT_RESULTS = MappingProxyType(
    {
        "reached": "Reached",
        "message_left": "Not reached, message left",
        "emergency_services": "Emergency services contacted",
        "no_contact_details": "No contact details given",
    }
)
CHOOSE_CONTACT_RESULT = "Choose the result of the contact attempt: each safety follow-up records one."
NOTE_MAX_LENGTH = 2000
PHYSICIAN = "physician"
#: The audit action of each review action.
AUDIT_ACTIONS = {
    "claim": "review.claimed",
    "release": "review.released",
    "take_over": "review.taken_over",
    "decide": "review.decided",
    "reopen": "review.reopened",
}

CLAIMED_BY_OTHER = "This submission is claimed by another physician. Take it over first."
ALREADY_CLAIMED = "You have already claimed this submission."
ALREADY_DECIDED = "This submission has already been decided. Reopen it first to change the decision."
CHANGED_MEANWHILE = "Someone else changed this submission a moment ago. Please reload it and try again."

Check = Callable[[Submission, User], None]


# --- Actions ----------------------------------------------------------------------------------


def claim(
    session: orm.Session, submission_id: int, user: User, now: datetime, *, remote_addr: str | None = None
) -> ReviewAction:
    """Assign an open submission to ``user``."""
    submission = _start(session, submission_id, user)
    _transition(session, submission, user, _check_claimable, status="claimed", assignee_id=user.id)
    return _record(session, submission, user, "claim", now, remote_addr=remote_addr)


def release(
    session: orm.Session, submission_id: int, user: User, now: datetime, *, remote_addr: str | None = None
) -> ReviewAction:
    """Put a submission ``user`` has claimed back in the open queue."""
    submission = _start(session, submission_id, user)
    _transition(session, submission, user, _check_releasable, status="open", assignee_id=None)
    return _record(session, submission, user, "release", now, remote_addr=remote_addr)


def take_over(
    session: orm.Session, submission_id: int, user: User, now: datetime, *, remote_addr: str | None = None
) -> ReviewAction:
    """Claim a submission another physician has claimed; the previous assignee is recorded."""
    submission = _start(session, submission_id, user)
    previous = submission.assignee_id
    _transition(session, submission, user, _check_can_take_over, status="claimed", assignee_id=user.id)
    extra = {"previous_assignee_id": previous}
    return _record(session, submission, user, "take_over", now, remote_addr=remote_addr, details=extra)


def decide(
    session: orm.Session,
    submission_id: int,
    user: User,
    decision: str,
    note: str | None,
    note_for_patient: bool,
    now: datetime,
    *,
    contact_result: str | None = None,
    remote_addr: str | None = None,
) -> ReviewAction:
    """Record ``user``'s decision with its required note; an unclaimed submission is claimed first.

    A safety follow-up also needs ``contact_result``, one of CONTACT_RESULTS; no other decision takes one.
    """
    if decision not in DECISIONS:
        raise ReviewInvalid(f"Choose a decision: one of {', '.join(DECISIONS)}.")
    if decision != SAFETY_FOLLOWUP and contact_result is not None:
        raise ReviewInvalid("The result of a contact attempt goes only with 'Safety follow-up done'.")
    text = clean_note(note, decision=decision)
    submission = _start(session, submission_id, user)
    was_open = submission.assignee_id is None

    def check(current: Submission, actor: User) -> None:
        _check_decidable(current, actor)
        if decision == SAFETY_FOLLOWUP and not current.safety_flag:
            raise ReviewInvalid("'Safety follow-up done' applies only to submissions with a safety flag.")
        if decision == SAFETY_FOLLOWUP and contact_result not in CONTACT_RESULTS:
            raise ReviewInvalid(CHOOSE_CONTACT_RESULT)

    _transition(session, submission, user, check, status="decided", assignee_id=user.id)
    if was_open:
        _record(session, submission, user, "claim", now, remote_addr=remote_addr)
    row = _record(
        session,
        submission,
        user,
        "decide",
        now,
        decision=decision,
        note=text,
        note_for_patient=note_for_patient,
        contact_result=contact_result,
        remote_addr=remote_addr,
    )
    messages.create_for_decision(session, row, now)  # sent to the patient once the view has committed
    return row


def reopen(
    session: orm.Session,
    submission_id: int,
    user: User,
    now: datetime,
    note: str | None = None,
    *,
    remote_addr: str | None = None,
) -> ReviewAction:
    """Put a decided submission back in the open queue, unassigned; ``note`` (optional) says why."""
    text = clean_note(note, decision=None) if note and note.strip() else None
    submission = _start(session, submission_id, user)
    _transition(session, submission, user, _check_reopenable, status="open", assignee_id=None)
    return _record(session, submission, user, "reopen", now, note=text, remote_addr=remote_addr)


def clean_note(note: str | None, *, decision: str | None) -> str:
    """Return the note trimmed; raise ReviewInvalid when it is empty or too long."""
    text = (note or "").replace("\x00", "").strip()
    if not text:
        if decision == "decline":
            raise ReviewInvalid("Give the reason for declining in the note.")
        raise ReviewInvalid("Write a note: every decision needs one.")
    if len(text) > NOTE_MAX_LENGTH:
        raise ReviewInvalid(f"The note has {len(text)} characters; please keep it to {NOTE_MAX_LENGTH}.")
    return text


# --- Checks: each raises with the message the physician should read ------------------------------


def _check_not_decided(submission: Submission) -> None:
    if submission.status == "decided":
        raise ReviewConflict(ALREADY_DECIDED)


def _check_claimable(submission: Submission, user: User) -> None:
    _check_not_decided(submission)
    if submission.assignee_id == user.id:
        raise ReviewConflict(ALREADY_CLAIMED)
    if submission.assignee_id is not None:
        raise ReviewConflict(CLAIMED_BY_OTHER)


def _check_releasable(submission: Submission, user: User) -> None:
    _check_not_decided(submission)
    if submission.assignee_id is None:
        raise ReviewConflict("This submission is not claimed, so there is nothing to release.")
    if submission.assignee_id != user.id:
        raise ReviewConflict("This submission is claimed by another physician; only they can release it.")


def _check_can_take_over(submission: Submission, user: User) -> None:
    _check_not_decided(submission)
    if submission.assignee_id is None:
        raise ReviewConflict("Nobody has claimed this submission. Claim it instead.")
    if submission.assignee_id == user.id:
        raise ReviewConflict(ALREADY_CLAIMED)


def _check_decidable(submission: Submission, user: User) -> None:
    _check_not_decided(submission)
    if submission.assignee_id not in (None, user.id):
        raise ReviewConflict(CLAIMED_BY_OTHER)


def _check_reopenable(submission: Submission, user: User) -> None:
    if submission.status != "decided":
        raise ReviewConflict("Only a decided submission can be reopened.")


# --- The mechanics -------------------------------------------------------------------------------


def _start(session: orm.Session, submission_id: int, user: User) -> Submission:
    """Check that ``user`` may review, and return the submission as the database has it now."""
    if user.role != PHYSICIAN or user.disabled:
        raise ReviewForbidden("Only physicians can claim, decide or reopen submissions.")
    return _load(session, submission_id)


def _load(session: orm.Session, submission_id: int) -> Submission:
    """Return the submission freshly read; raise ReviewNotFound when there is none."""
    submission = session.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        raise ReviewNotFound("There is no submission with this number.")
    return submission


def _transition(session: orm.Session, submission: Submission, user: User, check: Check, **values: Any) -> None:
    """Check the action against the submission, then write ``values`` only if nobody changed it since.

    When the conditional UPDATE finds the row changed, the check runs again on the current row,
    so the loser of a race reads why (for instance "claimed by another physician").
    """
    check(submission, user)
    seen = submission.row_version
    update = (
        sa.update(Submission)
        .where(Submission.id == submission.id, Submission.row_version == seen)
        .values(row_version=seen + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(session.execute(update), "rowcount", 0) != 1:
        check(_load(session, submission.id), user)
        raise ReviewConflict(CHANGED_MEANWHILE)
    for key, value in {**values, "row_version": seen + 1}.items():
        set_committed_value(submission, key, value)


def _record(
    session: orm.Session,
    submission: Submission,
    user: User,
    action: str,
    now: datetime,
    *,
    decision: str | None = None,
    note: str | None = None,
    note_for_patient: bool = False,
    contact_result: str | None = None,
    remote_addr: str | None = None,
    details: dict[str, int | None] | None = None,
) -> ReviewAction:
    """Add the action's row and its audit event (ids and codes only, never the note)."""
    row = ReviewAction(
        submission_id=submission.id,
        actor_id=user.id,
        at=now,
        action=action,
        decision=decision,
        note=note,
        note_for_patient=note_for_patient,
        contact_result=contact_result,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action=AUDIT_ACTIONS[action],
        subject_type="submission",
        subject_id=submission.id,
        at=now,
        remote_addr=remote_addr,
        details={
            "review_action_id": row.id,
            "row_version": submission.row_version,
            **({"decision": decision, "note_for_patient": note_for_patient} if decision else {}),
            **({"contact_result": contact_result} if contact_result else {}),
            **(details or {}),
        },
    )
    return row
