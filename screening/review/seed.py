"""Seed realistic fake submissions, for demos and benchmarks. Never real patients.

Each fake intake is scored and decided by the real code (the active rule set), so the queue shows
the mix of outcomes, priorities and safety flags real intakes would produce. Rows are inserted in
chunks with one multi-row INSERT per table, which keeps 100,000 submissions within a few minutes.
"""

from __future__ import annotations

import random
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..decisions import apply_to_submission
from ..decisions import decide
from ..fake import answers_documents
from ..instruments.scoring import score_answers
from ..patient.intake.service import REFERENCE_ALPHABET
from ..patient.intake.service import REFERENCE_LENGTH
from ..patient.intake.steps import FORM_VERSION
from ..models import Alert
from ..models import Decision
from ..models import Submission
from ..engine.model import RuleSet

CHUNK_SIZE = 1000
#: Submissions are spread evenly over this many days before ``now``.
SPREAD_DAYS = 90
#: Share of the urgent alert e-mails recorded as failed, so the queue shows what that looks like.
FAILED_ALERT_SHARE = 0.05
_DECISION_COLUMNS = tuple(attr.key for attr in sa.inspect(Decision).column_attrs if attr.key != "id")


def seed_submissions(session: orm.Session, count: int, *, seed: int, now: datetime, ruleset: RuleSet | None) -> int:
    """Add ``count`` fake submissions with their decisions (and alerts for safety cases); return the count.

    The same ``seed`` gives the same answers, times and outcomes. Rows are added in the caller's transaction.
    """
    rng = random.Random(seed)
    taken = set(session.scalars(sa.select(Submission.reference)))
    for start in range(0, count, CHUNK_SIZE):
        _seed_chunk(session, rng, min(CHUNK_SIZE, count - start), taken, now=now, ruleset=ruleset)
    audit.record(
        session,
        actor="cli",
        action="submissions.seeded",
        subject_type="submission",
        subject_id=None,
        at=now,
        details={"count": count, "seed": seed, "ruleset_version": ruleset.version if ruleset else None},
    )
    return count


def _seed_chunk(
    session: orm.Session,
    rng: random.Random,
    size: int,
    taken: set[str],
    *,
    now: datetime,
    ruleset: RuleSet | None,
) -> None:
    """Score, decide and insert ``size`` submissions."""
    submissions: list[Submission] = []
    decisions: list[Decision] = []
    for document in answers_documents(size, seed=rng.getrandbits(32)):
        submission = _fake_submission(rng, document, taken, now)
        decision = decide(submission, ruleset, now=submission.submitted_at)
        apply_to_submission(submission, decision)
        submissions.append(submission)
        decisions.append(decision)
    insert = sa.insert(Submission).returning(Submission.id, sort_by_parameter_order=True)
    ids = session.execute(insert, [_submission_row(submission) for submission in submissions]).scalars().all()
    for submission_id, decision in zip(ids, decisions, strict=True):
        decision.submission_id = submission_id
    session.execute(sa.insert(Decision), [{key: getattr(d, key) for key in _DECISION_COLUMNS} for d in decisions])
    alerts = [
        _alert_row(rng, submission_id, submission)
        for submission_id, submission in zip(ids, submissions, strict=True)
        if submission.outcome == "safety"
    ]
    if alerts:
        session.execute(sa.insert(Alert), alerts)


def _fake_submission(rng: random.Random, document: dict[str, Any], taken: set[str], now: datetime) -> Submission:
    """Return an unsaved submission of ``document``, sent at a random time in the past SPREAD_DAYS."""
    scores = score_answers(document).as_dict()
    return Submission(
        reference=_reference(rng, taken),
        submitted_at=now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400)),
        form_version=FORM_VERSION,
        answers=document,
        scores=scores,
        safety_flag=bool(scores["phq9_item9"]),
        status="open",
        row_version=1,
    )


def _submission_row(submission: Submission) -> dict[str, Any]:
    """Return the INSERT parameters of a submission."""
    return {
        "reference": submission.reference,
        "submitted_at": submission.submitted_at,
        "form_version": submission.form_version,
        "answers": submission.answers,
        "scores": submission.scores,
        "safety_flag": submission.safety_flag,
        "outcome": submission.outcome,
        "priority": submission.priority,
        "needs_action": submission.needs_action,
        "status": submission.status,
        "row_version": submission.row_version,
    }


def _alert_row(rng: random.Random, submission_id: int, submission: Submission) -> dict[str, Any]:
    """Return an urgent alert for a safety submission: sent within seconds, or failed after its retries."""
    failed = rng.random() < FAILED_ALERT_SHARE
    return {
        "submission_id": submission_id,
        "created_at": submission.submitted_at,
        "status": "failed" if failed else "sent",
        "attempts": 5 if failed else 1,
        "sent_at": None if failed else submission.submitted_at + timedelta(seconds=rng.randint(1, 30)),
        "last_error": "seeded: SMTP server refused the connection" if failed else None,
    }


def _reference(rng: random.Random, taken: set[str]) -> str:
    """Return a reference code, in the patient-facing format, that no submission has yet."""
    while True:
        code = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        reference = f"{code[:4]}-{code[4:]}"
        if reference not in taken:
            taken.add(reference)
            return reference
