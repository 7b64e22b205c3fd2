"""Decide a submission's outcome with the active rule set; never fail, never overwrite.

A submission with PHQ-9 item 9 above 0 is ``safety``, first in the queue, in every case: also when
the rules cannot be evaluated or no rule set is active. Otherwise, if the rules cannot be evaluated
for any reason, the decision is the error outcome (``manual_review``) with the error recorded
(naming the rule that raised), so the submission still reaches a clinician.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from . import audit
from .models import Decision
from .models import Submission
from .engine.evaluation import ENGINE_VERSION
from .engine.evaluation import Evaluation
from .engine.evaluation import RuleFailed
from .engine.evaluation import safety_evaluation
from .engine.evaluation import screen_answers
from .engine.model import RuleSet
from .engine.safety import ERROR_PRIORITY_AT_MOST
from .engine.safety import SAFETY_MESSAGE
from .engine.safety import SAFETY_OUTCOME
from .engine.safety import SAFETY_RULE_ID
from .engine.safety import at_risk
from .engine.safety import item9_of

log = logging.getLogger(__name__)

#: Used when no rule set is available at all to say what the error outcome is.
FALLBACK_ERROR_OUTCOME = "manual_review"
FALLBACK_ERROR_PRIORITY = ERROR_PRIORITY_AT_MOST
FALLBACK_ERROR_MESSAGE = (
    "Thank you. A clinician will review your answers and contact you if there is anything to discuss."
)


#: What a decision sets on its submission, where the review queue reads it.
DECIDED_FIELDS = ("outcome", "priority", "needs_action")


class NoRuleSet(RuntimeError):
    """No rule set was available to decide with."""


class Decidable(Protocol):
    """What deciding reads of a submission: a stored ``Submission``, or the row of one about to be inserted."""

    @property
    def id(self) -> int | None: ...
    @property
    def answers(self) -> dict[str, Any]: ...
    @property
    def scores(self) -> dict[str, Any]: ...
    @property
    def context_facts(self) -> dict[str, Any] | None: ...
    @property
    def form_version(self) -> str: ...


def decide(submission: Submission, ruleset: RuleSet | None, *, now: datetime) -> Decision:
    """Return a new decision for ``submission``; the caller adds it to the session."""
    return Decision(**decision_values(submission, ruleset, now=now))


def decision_values(submission: Decidable, ruleset: RuleSet | None, *, now: datetime) -> dict[str, Any]:
    """Return the column values of a new decision for ``submission`` (``decide`` without the ORM object)."""
    try:
        if ruleset is None:
            raise NoRuleSet("no valid rule set is active")
        screening = screen_answers(submission.answers, ruleset, submission.scores, submission.context_facts)
    except Exception as error:  # noqa: BLE001 - any failure becomes a manual review, never a lost submission
        log.error("rules not evaluated for submission %s: %s", submission.id, type(error).__name__)
        if at_risk(item9_of(submission.answers)):
            return _safety_decision_after_failure(submission, ruleset, error, now)
        return _error_decision(submission, ruleset, error, now)
    evaluation = screening.evaluation
    if evaluation.error is not None:
        log.error("a rule raised for submission %s; decided safety regardless", submission.id)
    return _decision(submission, evaluation, ruleset, now, facts=screening.facts, trials=screening.trials)


def _decision(
    submission: Decidable,
    evaluation: Evaluation,
    ruleset: RuleSet | None,
    now: datetime,
    *,
    facts: dict[str, object],
    trials: list[dict[str, object]],
) -> dict[str, Any]:
    """Return the decision recording ``evaluation``; the safety outcome takes the engine's own message."""
    safety = evaluation.outcome == SAFETY_OUTCOME
    spec = ruleset.outcomes[evaluation.outcome] if ruleset is not None and not safety else None
    return dict(
        submission_id=submission.id,
        created_at=now,
        outcome=evaluation.outcome,
        priority=evaluation.priority,
        needs_action=True if spec is None else spec.needs_action,
        ruleset_version=ruleset.version if ruleset is not None else None,
        engine_version=ENGINE_VERSION,
        form_version=submission.form_version,
        message=SAFETY_MESSAGE if spec is None else spec.message,
        fired=[fired.as_dict() for fired in evaluation.fired],
        notes=[note.as_dict() for note in evaluation.notes],
        facts=facts,
        trials=trials,
        error=evaluation.error,
    )


def _safety_decision_after_failure(
    submission: Decidable, ruleset: RuleSet | None, error: Exception, now: datetime
) -> dict[str, Any]:
    """Return the safety decision of a submission whose rules could not be evaluated at all."""
    item9 = {"phq9_item9": item9_of(submission.answers)}
    evaluation = safety_evaluation(ruleset, item9, [], describe_failure(error))
    return _decision(submission, evaluation, ruleset, now, facts={}, trials=[])


def describe_failure(error: Exception) -> str:
    """Return what went wrong, naming the rule when one raised; never answers."""
    text = str(error) if isinstance(error, RuleFailed) else f"{type(error).__name__}: {error}"
    return text[:2000]


def _error_decision(submission: Decidable, ruleset: RuleSet | None, error: Exception, now: datetime) -> dict[str, Any]:
    """Return the decision recorded when the rules could not be evaluated: it needs action, never parked."""
    spec = ruleset.outcomes.get(ruleset.error_outcome) if ruleset is not None else None
    return dict(
        submission_id=submission.id,
        created_at=now,
        outcome=ruleset.error_outcome if ruleset is not None else FALLBACK_ERROR_OUTCOME,
        priority=min(spec.priority, ERROR_PRIORITY_AT_MOST) if spec else FALLBACK_ERROR_PRIORITY,
        needs_action=True,
        ruleset_version=ruleset.version if ruleset is not None else None,
        engine_version=ENGINE_VERSION,
        form_version=submission.form_version,
        message=spec.message if spec else FALLBACK_ERROR_MESSAGE,
        fired=[],
        notes=[],
        facts={},
        trials=[],
        error=describe_failure(error),
    )


def apply_to_submission(submission: Submission, decision: Decision) -> None:
    """Copy the decision's outcome onto the submission, where the review queue reads it."""
    for key in DECIDED_FIELDS:
        setattr(submission, key, getattr(decision, key))


def latest_decision(session: orm.Session, submission: Submission) -> Decision | None:
    """Return the newest decision of a submission."""
    query = sa.select(Decision).where(Decision.submission_id == submission.id).order_by(Decision.id.desc()).limit(1)
    return session.scalars(query).first()


def decision_history(session: orm.Session, submission: Submission) -> list[Decision]:
    """Return every decision of a submission, oldest first."""
    query = sa.select(Decision).where(Decision.submission_id == submission.id).order_by(Decision.id)
    return list(session.scalars(query))


def submission_by_reference(session: orm.Session, reference: str) -> Submission | None:
    """Return the submission with a reference code, ignoring case and the dash; None if there is none."""
    code = reference.strip().upper().replace("-", "")
    return session.scalar(sa.select(Submission).where(sa.func.replace(Submission.reference, "-", "") == code))


def patient_notes(decision: Decision, *, beside_crisis_help: bool = False) -> list[str]:
    """Return the texts of the notes addressed to the patient.

    Beside the crisis help the safety rule's own note is left out: it says what the crisis help says.
    """
    return [
        note["text"]
        for note in decision.notes
        if note["audience"] == "patient" and not (beside_crisis_help and note.get("rule") == SAFETY_RULE_ID)
    ]


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
