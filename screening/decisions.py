"""Decide a submission's outcome with the active rule set; never fail, never overwrite.

If the rules cannot be evaluated for any reason, the decision is the error outcome
(``manual_review``) with the error recorded, so the submission still reaches a clinician.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from . import audit
from .models import Decision
from .models import Submission
from .ruleset.engine import ENGINE_VERSION
from .ruleset.engine import screen_answers
from .ruleset.model import RuleSet

log = logging.getLogger(__name__)

#: Used when no rule set is available at all to say what the error outcome is.
FALLBACK_ERROR_OUTCOME = "manual_review"
FALLBACK_ERROR_PRIORITY = 4
FALLBACK_ERROR_MESSAGE = (
    "Thank you. A clinician will review your answers and contact you if there is anything to discuss."
)


class NoRuleSet(RuntimeError):
    """No rule set was available to decide with."""


def decide(submission: Submission, ruleset: RuleSet | None, *, now: datetime) -> Decision:
    """Return a new decision for ``submission``; the caller adds it to the session."""
    try:
        if ruleset is None:
            raise NoRuleSet("no valid rule set is active")
        screening = screen_answers(submission.answers, ruleset, submission.scores)
    except Exception as error:  # noqa: BLE001 - any failure becomes a manual review, never a lost submission
        log.error("rules not evaluated for submission %s: %s", submission.id, type(error).__name__)
        return _error_decision(submission, ruleset, error, now)
    evaluation = screening.evaluation
    outcome = ruleset.outcomes[evaluation.outcome]
    return Decision(
        submission_id=submission.id,
        created_at=now,
        outcome=evaluation.outcome,
        priority=evaluation.priority,
        needs_action=outcome.needs_action,
        ruleset_version=ruleset.version,
        engine_version=ENGINE_VERSION,
        form_version=submission.form_version,
        message=outcome.message,
        fired=[fired.as_dict() for fired in evaluation.fired],
        notes=[note.as_dict() for note in evaluation.notes],
        facts=screening.facts,
        trials=screening.trials,
        error=None,
    )


def _error_decision(submission: Submission, ruleset: RuleSet | None, error: Exception, now: datetime) -> Decision:
    """Return the decision recorded when the rules could not be evaluated."""
    spec = ruleset.outcomes.get(ruleset.error_outcome) if ruleset is not None else None
    return Decision(
        submission_id=submission.id,
        created_at=now,
        outcome=ruleset.error_outcome if ruleset is not None else FALLBACK_ERROR_OUTCOME,
        priority=spec.priority if spec else FALLBACK_ERROR_PRIORITY,
        needs_action=True,
        ruleset_version=ruleset.version if ruleset is not None else None,
        engine_version=ENGINE_VERSION,
        form_version=submission.form_version,
        message=spec.message if spec else FALLBACK_ERROR_MESSAGE,
        fired=[],
        notes=[],
        facts={},
        trials=[],
        error=f"{type(error).__name__}: {error}"[:2000],
    )


def apply_to_submission(submission: Submission, decision: Decision) -> None:
    """Copy the decision's outcome onto the submission, where the review queue reads it."""
    submission.outcome = decision.outcome
    submission.priority = decision.priority
    submission.needs_action = decision.needs_action


def latest_decision(session: orm.Session, submission: Submission) -> Decision | None:
    """Return the newest decision of a submission."""
    query = sa.select(Decision).where(Decision.submission_id == submission.id).order_by(Decision.id.desc()).limit(1)
    return session.scalars(query).first()


def patient_notes(decision: Decision) -> list[str]:
    """Return the texts of the notes addressed to the patient."""
    return [note["text"] for note in decision.notes if note["audience"] == "patient"]


def reevaluate(
    session: orm.Session, submission: Submission, ruleset: RuleSet | None, *, now: datetime, actor: str
) -> Decision:
    """Add a new decision for ``submission`` with ``ruleset``; earlier decisions stay as they were."""
    decision = decide(submission, ruleset, now=now)
    session.add(decision)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="decision.reevaluated",
        subject_type="submission",
        subject_id=submission.id,
        at=now,
        details={"decision_id": decision.id, "ruleset_version": decision.ruleset_version},
    )
    return decision
