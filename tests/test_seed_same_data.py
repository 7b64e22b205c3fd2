"""Seeding stores the same data for the same seed however it is made fast, decided as the active rules decide.

The digest below was taken from ``seed_submissions(session, 200, seed=SEED, now=NOW, ...)`` as the seeder
stood before it was made fast (one ORM-free insert path, remembered conditions). It covers everything the
rules do not decide (answers, scores, times, references, flags, alerts, the audit event), so it holds while
the rule files change; what the rules decide is compared with screening each stored document afresh.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from screening.active_rules import require_ruleset
from screening.db import new_session
from screening.engine.evaluation import ENGINE_VERSION
from screening.engine.evaluation import screen_answers
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import Decision
from screening.models import Submission
from screening.patient.intake.steps import FORM_VERSION
from screening.review.seed import seed_submissions

from .test_review_service import NOW

COUNT = 200
SEED = 20261202
#: sha256 of ``stored_rows`` of the seeded set, as the seeder before the speed-up stored it.
DIGEST = "59ef1bb51914865cf7a525672aa6f881863bcbe20dace2e971207aa3808e1d88"
#: The first references and times, to say more than "the digest differs" when the data changed.
FIRST = [
    ["K08F-F0KY", "2026-10-05T04:12:08.749805+00:00"],
    ["N994-4NKQ", "2026-10-10T12:44:03.321429+00:00"],
    ["EWJV-7R8R", "2026-10-12T17:56:09.190767+00:00"],
]


def _json(value: Any) -> Any:
    """Return ``value`` with times as ISO text, so rows from either backend compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=lambda v: v.isoformat()))


def stored_rows(session: orm.Session) -> dict[str, list[Any]]:
    """Return the seeded rows the rules do not decide, in insertion order, without database ids."""
    reference = {sid: ref for sid, ref in session.execute(sa.select(Submission.id, Submission.reference))}
    submissions = [
        [s.reference, s.submitted_at, s.answers, s.scores, s.safety_flag, s.status, s.row_version]
        + [s.assignee_id, s.draft_id, s.status_token_hash, s.context_facts]
        for s in session.scalars(sa.select(Submission).order_by(Submission.id))
    ]
    decisions = [
        [reference[d.submission_id], d.created_at] for d in session.scalars(sa.select(Decision).order_by(Decision.id))
    ]
    alerts = [
        [reference[a.submission_id], a.created_at, a.kind, a.status, a.attempts, a.sent_at, a.last_error]
        for a in session.scalars(sa.select(Alert).order_by(Alert.id))
    ]
    events = [
        [e.at, e.actor, e.action, e.subject_type, e.subject_id, {**e.details, "ruleset_version": None}]
        for e in session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "submissions.seeded").order_by(AuditEvent.id)
        )
    ]
    return _json({"submissions": submissions, "decisions": decisions, "alerts": alerts, "events": events})


def digest(rows: dict[str, list[Any]]) -> str:
    """Return the sha256 of the rows' canonical JSON."""
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def test_the_seeded_rows_are_the_ones_seeded_before(app: Flask) -> None:
    with new_session(app) as session:
        seed_submissions(session, COUNT, seed=SEED, now=NOW, ruleset=require_ruleset(app))
        session.commit()
        rows = stored_rows(session)
    assert [row[:2] for row in rows["submissions"][: len(FIRST)]] == FIRST
    assert len(rows["submissions"]) == len(rows["decisions"]) == COUNT
    assert digest(rows) == DIGEST


def test_every_seeded_decision_is_what_the_active_rules_decide(app: Flask) -> None:
    ruleset = require_ruleset(app)
    with new_session(app) as session:
        seed_submissions(session, COUNT, seed=SEED, now=NOW, ruleset=ruleset)
        session.commit()
        pairs = session.execute(sa.select(Submission, Decision).join(Decision).order_by(Submission.id)).all()
    assert len(pairs) == COUNT
    for submission, decision in pairs:
        screening = screen_answers(submission.answers, ruleset, submission.scores, submission.context_facts)
        evaluation = screening.evaluation
        spec = ruleset.outcomes.get(evaluation.outcome)
        expected = {
            "outcome": evaluation.outcome,
            "priority": evaluation.priority,
            "fired": [fired.as_dict() for fired in evaluation.fired],
            "notes": [note.as_dict() for note in evaluation.notes],
            "facts": screening.facts,
            "trials": screening.trials,
            "error": evaluation.error,
        }
        found = {key: getattr(decision, key) for key in expected}
        assert _json(found) == _json(expected), submission.reference
        needs_action = True if evaluation.outcome == "safety" else spec is not None and spec.needs_action
        assert (decision.needs_action, decision.ruleset_version) == (needs_action, ruleset.version)
        assert (decision.engine_version, decision.form_version) == (ENGINE_VERSION, FORM_VERSION)
        assert (submission.outcome, submission.priority, submission.needs_action) == (
            decision.outcome,
            decision.priority,
            decision.needs_action,
        )
        if evaluation.outcome != "safety":
            assert spec is not None and decision.message == spec.message
