"""Seed realistic fake submissions, for demos and benchmarks. Never real patients.

Each fake intake is scored and decided by the real code (the active rule set), so the queue shows
the mix of outcomes, priorities and safety flags real intakes would produce. All rows go in the
caller's one transaction, as Core multi-row INSERTs of a chunk per table, with no ORM objects at all.
Deciding is the expensive part; the active rule set decides each intake with its conditions compiled
into one plain Python function (``engine.native``), as every screening does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..decisions import DECIDED_FIELDS
from ..decisions import decision_values
from ..engine.model import RuleSet
from ..fake import answers_documents
from ..instruments.scoring import score_answers
from ..models import Alert
from ..models import Decision
from ..models import Submission
from ..patient.intake.service import REFERENCE_ALPHABET
from ..patient.intake.service import REFERENCE_LENGTH
from ..patient.intake.steps import FORM_VERSION

#: Submissions drawn from one stream of the random generator: part of what a seed means, never change it.
CHUNK_SIZE = 1000
#: Submissions are spread evenly over this many days before ``now``.
SPREAD_DAYS = 90
#: Share of the urgent alert e-mails recorded as failed, so the queue shows what that looks like.
FAILED_ALERT_SHARE = 0.05
_SUBMISSIONS = sa.inspect(Submission).local_table
_DECISIONS = sa.inspect(Decision).local_table
_ALERTS = sa.inspect(Alert).local_table
_DECISION_COLUMNS = tuple(attr.key for attr in sa.inspect(Decision).column_attrs if attr.key != "id")


@dataclass(frozen=True)
class _Unsaved:
    """What deciding reads of a fake submission not inserted yet (``decisions.Decidable``)."""

    answers: dict[str, Any]
    scores: dict[str, Any]
    form_version: str
    id: int | None = None
    context_facts: dict[str, Any] | None = None


def seed_submissions(session: orm.Session, count: int, *, seed: int, now: datetime, ruleset: RuleSet | None) -> int:
    """Add ``count`` fake submissions with their decisions (and alerts for safety cases); return the count.

    The same ``seed`` gives the same answers, times and outcomes. Rows are added in the caller's transaction.
    """
    rng = random.Random(seed)
    taken = set(session.scalars(sa.select(Submission.reference)))
    connection = session.connection()
    for start in range(0, count, CHUNK_SIZE):
        _seed_chunk(connection, rng, min(CHUNK_SIZE, count - start), taken, now=now, ruleset=ruleset)
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
    connection: sa.Connection,
    rng: random.Random,
    size: int,
    taken: set[str],
    *,
    now: datetime,
    ruleset: RuleSet | None,
) -> None:
    """Score, decide and insert ``size`` submissions."""
    submissions: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    for document in answers_documents(size, seed=rng.getrandbits(32)):
        submission = _fake_submission(rng, document, taken, now)
        unsaved = _Unsaved(answers=document, scores=submission["scores"], form_version=FORM_VERSION)
        decision = decision_values(unsaved, ruleset, now=submission["submitted_at"])
        submission.update({key: decision[key] for key in DECIDED_FIELDS})
        submissions.append(submission)
        decisions.append({key: decision.get(key) for key in _DECISION_COLUMNS})
    # RETURNING makes SQLAlchemy send the chunk as one multi-row statement ("insertmanyvalues"), so the database
    # keeps its queue counts once per chunk, not once per row; rows may come back in any order.
    inserted = sa.insert(_SUBMISSIONS).returning(_SUBMISSIONS.c.reference, _SUBMISSIONS.c.id)
    id_of: dict[str, int] = dict(connection.execute(inserted, submissions).all())
    ids = [id_of[submission["reference"]] for submission in submissions]
    for submission_id, decision_row in zip(ids, decisions, strict=True):
        decision_row["submission_id"] = submission_id
    connection.execute(sa.insert(_DECISIONS), decisions)
    alerts = [
        _alert_row(rng, submission_id, submission)
        for submission_id, submission in zip(ids, submissions, strict=True)
        if submission["outcome"] == "safety"
    ]
    if alerts:
        connection.execute(sa.insert(_ALERTS), alerts)


def _fake_submission(rng: random.Random, document: dict[str, Any], taken: set[str], now: datetime) -> dict[str, Any]:
    """Return the row of a submission of ``document``, sent at a random time in the past SPREAD_DAYS, undecided."""
    scores = score_answers(document).as_dict()
    return {
        "reference": _reference(rng, taken),
        "submitted_at": now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400)),
        "form_version": FORM_VERSION,
        "answers": document,
        "scores": scores,
        "safety_flag": bool(scores["phq9_item9"]),
        "status": "open",
        "row_version": 1,
    }


def _alert_row(rng: random.Random, submission_id: int, submission: dict[str, Any]) -> dict[str, Any]:
    """Return an urgent alert for a safety submission: sent within seconds, or failed after its retries."""
    failed = rng.random() < FAILED_ALERT_SHARE
    return {
        "submission_id": submission_id,
        "created_at": submission["submitted_at"],
        "status": "failed" if failed else "sent",
        "attempts": 5 if failed else 1,
        "sent_at": None if failed else submission["submitted_at"] + timedelta(seconds=rng.randint(1, 30)),
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
