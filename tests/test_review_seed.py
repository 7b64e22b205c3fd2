"""Seeded fake submissions: decided by the real rules, spread over 90 days, quick to insert."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from screening.db import new_session
from screening.decisions import decide
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import Decision
from screening.models import Submission
from screening.review import service
from screening.review.seed import seed_submissions
from screening.active_rules import require_ruleset

from .test_review_service import NOW
from .test_review_service import add_submission


def test_seeded_submissions_look_like_real_intakes(app: Flask) -> None:
    ruleset = require_ruleset(app)
    with new_session(app) as session:
        existing = add_submission(session, "candidate")
        assert seed_submissions(session, 350, seed=11, now=NOW, ruleset=ruleset) == 350
        session.commit()
    with new_session(app) as session:
        seeded = session.scalars(sa.select(Submission).where(Submission.id != existing.id)).all()
        decisions = {d.submission_id: d for d in session.scalars(sa.select(Decision))}
        alerts = session.scalars(sa.select(Alert)).all()
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "submissions.seeded")).all()
        counts = service.outcome_counts(session)
        page = service.queue_page(session, limit=10)
    assert len(seeded) == 350 and len({s.reference for s in seeded} | {existing.reference}) == 351
    outcomes = Counter(submission.outcome for submission in seeded)
    assert {"safety", "contraindication_review", "counseling", "not_candidate"} <= set(outcomes)
    for submission in seeded:
        decision = decisions[submission.id]
        assert (submission.outcome, submission.priority, submission.needs_action) == (
            decision.outcome,
            decision.priority,
            decision.needs_action,
        )
        assert decision.ruleset_version == ruleset.version and decision.created_at == submission.submitted_at
        assert NOW - timedelta(days=90) <= submission.submitted_at <= NOW
        assert submission.status == "open" and submission.row_version == 1
        assert submission.safety_flag == (submission.answers["phq9"][8] > 0)
    assert {alert.submission_id for alert in alerts} == {s.id for s in seeded if s.outcome == "safety"}
    assert [(event.actor, event.details["count"], event.details["seed"]) for event in events] == [("cli", 350, 11)]
    assert sum(counts.values()) == 351
    assert page.rows[0].outcome == "safety"


def test_seeded_decisions_match_a_fresh_evaluation(app: Flask) -> None:
    ruleset = require_ruleset(app)
    with new_session(app) as session:
        seed_submissions(session, 40, seed=3, now=NOW, ruleset=ruleset)
        session.commit()
        for submission in session.scalars(sa.select(Submission)):
            assert decide(submission, ruleset, now=NOW).outcome == submission.outcome


def test_the_same_seed_gives_the_same_intakes(app: Flask) -> None:
    ruleset = require_ruleset(app)
    runs = []
    for _ in range(2):
        with new_session(app) as session:
            seed_submissions(session, 30, seed=5, now=NOW, ruleset=ruleset)
            rows = session.execute(
                sa.select(Submission.outcome, Submission.submitted_at, Submission.answers).order_by(Submission.id)
            ).all()
            runs.append([tuple(row) for row in rows])
            session.rollback()
    assert runs[0] == runs[1]


def test_seeding_without_rules_queues_everything_for_manual_review(app: Flask) -> None:
    with new_session(app) as session:
        seed_submissions(session, 5, seed=1, now=NOW, ruleset=None)
        outcomes = set(session.scalars(sa.select(Submission.outcome)))
    assert outcomes == {"manual_review"}
