"""Drafts and submissions: plain functions over an explicit session, no request globals."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from ... import audit
from ...alerts import create_safety_alert
from ...answers import parse_answers
from ...contacts.details import in_service_area
from ...contacts.details import served_states
from ...contacts.service import store_contact
from ...decisions import apply_to_submission
from ...decisions import decide
from ...errors import DraftExpired
from ...errors import DraftNotFound
from ...instruments.scoring import score_answers
from ...models import Draft
from ...models import Submission
from ..status.service import issue_status_token
from ...engine.model import RuleSet
from . import contact_step
from . import steps

#: Crockford's base32 without I, L, O and U: easy to read aloud and to type.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8

#: PHQ-9 item 9 ("thoughts that you would be better off dead...") is the last item.
PHQ9_ITEM9 = "phq9_9"


@dataclass(frozen=True)
class Submitted:
    """The submission of a draft, with the status link token: shown once, only its hash is stored."""

    submission: Submission
    #: None when the draft had been submitted before: its token was handed out then.
    status_token: str | None


@dataclass(frozen=True)
class NewDraft:
    """A draft just created, with the resume token that is shown once and never stored."""

    draft: Draft
    token: str


def hash_token(token: str) -> str:
    """Return the stored form of a resume token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_reference() -> str:
    """Return a random reference code such as "K7M4-QX9P" (40 bits)."""
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def create_draft(session: orm.Session, saved: dict[str, steps.Pairs], *, now: datetime, ttl_days: int) -> NewDraft:
    """Store a new draft holding the steps answered so far, and the answers of those that are valid."""
    token = secrets.token_urlsafe(32)  # 256 bits
    kept: dict[str, Any] = {"form_version": steps.FORM_VERSION, "steps": {}}
    for key, pairs in saved.items():
        kept = steps.keeping(kept, key, steps.validated_answers(steps.BY_KEY[key], pairs))
    draft = Draft(
        token_hash=hash_token(token),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=ttl_days),
        steps=dict(saved),
        answers=kept,
    )
    session.add(draft)
    session.flush()
    return NewDraft(draft, token)


#: The draft of a token's hash, and whether it was submitted. Built once: building a statement costs more than
#: running this one, and every wizard page runs it.
_DRAFT_BY_TOKEN_HASH = (
    sa.select(Draft).where(Draft.token_hash == sa.bindparam("token_hash")).options(orm.undefer(Draft.submitted))
)


def find_draft(session: orm.Session, token: str | None, *, now: datetime) -> Draft:
    """Return the draft a resume token opens; raise if there is none or it has expired.

    Whether it was submitted (``Draft.submitted``) comes in the same query: every wizard page asks.
    """
    if not token:
        raise DraftNotFound("Start a new form, or open the resume link you were given.")
    draft = session.scalar(_DRAFT_BY_TOKEN_HASH, {"token_hash": hash_token(token)})
    if draft is None:
        raise DraftNotFound("The link may be mistyped, or the form was deleted. You can start a new form.")
    if draft.expires_at <= now:
        raise DraftExpired("Saved forms are kept for a limited time. Please start a new form.")
    return draft


def save_step(
    draft: Draft, key: str, pairs: steps.Pairs, answers: dict[str, Any] | None, *, now: datetime, ttl_days: int
) -> None:
    """Keep a step's posted pairs and, when they are valid, its ``answers``; push back the draft's expiry."""
    draft.steps = {**draft.steps, key: pairs}
    draft.answers = steps.keeping(draft.answers, key, answers)
    draft.updated_at = now
    draft.expires_at = now + timedelta(days=ttl_days)
    if key == "mood" and item9_above_zero(pairs) and draft.safety_flagged_at is None:
        draft.safety_flagged_at = now


def save_contact(draft: Draft, config: Mapping[str, Any], pairs: steps.Pairs, *, now: datetime, ttl_days: int) -> None:
    """Keep the contact step's answers encrypted (only the choice when declined) and push back the expiry.

    Whether what is kept is valid is kept in clear, without the details (the step adds nothing to the document).
    """
    contact_step.store(draft, config, pairs)
    step = steps.BY_KEY[contact_step.KEY]
    draft.answers = steps.keeping(
        draft.answers, step.key, steps.validated_answers(step, contact_step.kept_pairs(pairs))
    )
    draft.updated_at = now
    draft.expires_at = now + timedelta(days=ttl_days)


def item9_above_zero(pairs: steps.Pairs) -> bool:
    """Return True when the posted PHQ-9 answers put item 9 above 0, valid or not."""
    return any(name == PHQ9_ITEM9 and _points(value) != 0 for name, value in pairs)


def _points(value: str) -> int | None:
    """Return a posted answer as points; a value that is not a number counts as above 0 (the safe side)."""
    text = value.strip()
    if not text:
        return 0
    return int(text) if text.isascii() and text.isdigit() and len(text) < 4 else None


def submission_for(session: orm.Session, draft: Draft) -> Submission | None:
    """Return the submission already made from ``draft``, if any."""
    return session.scalar(sa.select(Submission).where(Submission.draft_id == draft.id))


def submit_draft(
    session: orm.Session,
    draft: Draft,
    *,
    ruleset: RuleSet | None,
    now: datetime,
    remote_addr: str | None,
    config: Mapping[str, Any],
) -> Submitted:
    """Score, decide and store the draft's answers once; a second call returns the first submission.

    The submission (with its status link token), its decision and the audit event are added in the
    caller's transaction. The contact details (if given) are stored apart, encrypted with ``config``'s key;
    the rules read only whether their state is in the service area.
    """
    existing = submission_for(session, draft)
    if existing is not None:
        return Submitted(existing, None)
    document = parse_answers(steps.build_document(contact_step.saved(draft, config))).to_document()
    scores = score_answers(document).as_dict()
    contact = contact_step.details_of(draft, config)
    state = contact.state if contact is not None else None
    submission = Submission(
        reference=_unused_reference(session),
        submitted_at=now,
        form_version=steps.FORM_VERSION,
        answers=document,
        scores=scores,
        safety_flag=bool(scores["phq9_item9"]) or draft.safety_flagged_at is not None,
        draft_id=draft.id,
        context_facts={"in_service_area": in_service_area(state, served_states(config.get("SERVICE_STATES")))},
    )
    status_token = issue_status_token(submission)
    session.add(submission)
    session.flush()
    if contact is not None:
        store_contact(session, config, submission, contact)
    decision = decide(submission, ruleset, now=now)
    session.add(decision)
    apply_to_submission(submission, decision)
    audit.record(
        session,
        actor="patient",
        action="submission.created",
        subject_type="submission",
        subject_id=submission.id,
        at=now,
        remote_addr=remote_addr,
        details={
            "form_version": steps.FORM_VERSION,
            "ruleset_version": decision.ruleset_version,
            "safety_flag": submission.safety_flag,
        },
    )
    if submission.safety_flag:  # the on-call e-mail is queued by the caller after the commit
        create_safety_alert(session, submission, now)
    draft.steps = {}  # the answers now live in the submission only, the contact details in their own table
    draft.answers = None
    draft.contact_sealed = None
    return Submitted(submission, status_token)


def _unused_reference(session: orm.Session) -> str:
    """Return a reference code no submission has yet."""
    while True:
        reference = new_reference()
        taken = session.scalar(sa.select(Submission.id).where(Submission.reference == reference))
        if taken is None:
            return reference


def purge_expired_drafts(session: orm.Session, *, now: datetime) -> int:
    """Delete drafts past their expiry and return how many were deleted."""
    result = session.execute(sa.delete(Draft).where(Draft.expires_at <= now))
    count: int = getattr(result, "rowcount", 0)
    return count


def safety_flagged(draft: Draft, submission: Submission | None) -> bool:
    """Return True when crisis resources must be shown for this intake."""
    return draft.safety_flagged_at is not None or (submission is not None and submission.safety_flag)
