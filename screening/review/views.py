"""The physicians' pages: the review queue and one submission, with the actions taken on it.

Views are thin: read the request, call ``service``, commit, redirect. A review error (claimed by
someone else, decided already, a bad page link) becomes a message on the page redirected to, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import orm
from werkzeug.wrappers import Response

from .. import errorpages
from .. import vocabulary
from ..auth import clock
from ..auth.accounts import current_user
from ..auth.roles import guard_blueprint
from ..db import get_session
from ..errorpages import ERROR
from ..instruments import FS_BANDS
from ..instruments import GAD7
from ..instruments import ISI
from ..instruments import PAIN_AVERAGE
from ..instruments import PHQ9
from ..instruments import Band
from ..patient.intake import display
from ..models import User
from ..active_rules import active_ruleset
from ..engine.model import RuleSet
from . import service
from .contact_panel import contact_panel
from .formatting import fact_value
from .formatting import utc
from .formatting import waited
from .errors import ReviewError
from .errors import ReviewInvalid
from .queue import STATUSES

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")
guard_blueprint(bp, "physician", home="review.queue")

#: The two lists of the queue: ``?list=none`` shows the submissions that need no action.
LISTS = {"action": True, "none": False}
ASSIGNEES = {"anyone": "Anyone", "me": "Me", "unassigned": "Nobody (unassigned)"}
STATUS_LABELS = {"open": "Open", "claimed": "Claimed", "decided": "Decided"}
DECISION_LABELS = {
    "consult": "Invite to a consultation",
    "decline": "Decline (give the reason in the note)",
    "request_info": "Ask the patient for more information",
    "safety_followup_done": "Safety follow-up done",
}
ACTION_LABELS = {
    "claim": "Claimed",
    "release": "Released",
    "take_over": "Took over",
    "decide": "Decided",
    "reopen": "Reopened",
}
#: The scores shown with a scale: key, label, highest value, bands, key of the stored band.
SCALES: tuple[tuple[str, str, int, tuple[Band, ...], str | None], ...] = (
    ("phq9", "PHQ-9 (depression)", PHQ9.max_total, PHQ9.bands, "phq9_band"),
    ("phq9_item9", "PHQ-9 item 9 (thoughts of self-harm)", 3, (), None),
    ("gad7", "GAD-7 (anxiety)", GAD7.max_total, GAD7.bands, "gad7_band"),
    ("isi", "Insomnia Severity Index", ISI.max_total, ISI.bands, "isi_band"),
    ("pain_average", "Average pain, past week", PAIN_AVERAGE.max_total, PAIN_AVERAGE.bands, "pain_band"),
    ("wpi", "Widespread Pain Index", 19, (), None),
    ("sss", "Symptom Severity Scale", 12, (), None),
    ("fs", "Fibromyalgia severity (WPI + SSS)", 31, FS_BANDS, "fs_band"),
    ("generalized_pain_regions", "Regions with generalized pain", 5, (), None),
)

Action = Callable[[orm.Session, User, datetime], object]


# --- Presentation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRow:
    """One score with its band, drawn on a scale from 0 to ``maximum``."""

    key: str
    label: str
    value: int
    maximum: int
    band: str | None


@dataclass(frozen=True)
class TrialRow:
    """One medication trial and whether it counted toward treatment-resistant depression."""

    medicine: str
    summary: str
    counts: bool | None
    reasons: tuple[str, ...]


def outcome_titles(ruleset: RuleSet | None) -> dict[str, str]:
    """Return the title of each outcome of the rule set, in queue order."""
    if ruleset is None:
        return {}
    ordered = sorted(ruleset.outcomes.items(), key=lambda item: item[1].priority)
    return {name: spec.title for name, spec in ordered}


def list_outcomes(ruleset: RuleSet | None, counts: Mapping[str, int], *, needs_action: bool) -> dict[str, str]:
    """Return the outcomes a list can show (with their titles): the rule set's, and any that has rows."""
    titles = outcome_titles(ruleset)
    specs = ruleset.outcomes if ruleset is not None else {}
    shown = {name: title for name, title in titles.items() if specs[name].needs_action == needs_action}
    return {**shown, **{name: titles.get(name, name) for name in counts if name not in shown}}


def _score_rows(scores: Mapping[str, Any]) -> list[ScoreRow]:
    """Return the stored scores that have a scale, with their band labels."""
    rows = []
    for key, label, maximum, bands, band_key in SCALES:
        if isinstance(scores.get(key), int):
            band_name = scores.get(band_key) if band_key else None
            band = next((b.label for b in bands if b.name == band_name), band_name)
            rows.append(ScoreRow(key, label, scores[key], maximum, band))
    return rows


def _trial_rows(answers: Mapping[str, Any], assessed: list[Any] | None) -> list[TrialRow]:
    """Return each medication trial the patient listed, with the rules' verdict on it."""
    trials = answers.get("medication_trials") or []
    verdicts = assessed if assessed is not None and len(assessed) == len(trials) else [None] * len(trials)
    return [
        TrialRow(
            vocabulary.label(vocabulary.MEDICATIONS, str(trial.get("drug", ""))),
            display.trial_summary(trial) if isinstance(trial, Mapping) else "",
            verdict["counts"] if verdict else None,
            tuple(verdict["reasons"]) if verdict else (),
        )
        for trial, verdict in zip(trials, verdicts, strict=True)
    ]


def _answer_sections(answers: Mapping[str, Any]) -> list[display.Section] | None:
    """Return the answers grouped by instrument, or None when the document cannot be read that way."""
    try:
        return display.sections(answers)
    except (KeyError, TypeError, ValueError, IndexError) as error:  # an old or damaged document
        log.warning("answers not displayable: %s", type(error).__name__)
        return None


def detail_context(found: service.Detail, user_id: int) -> dict[str, Any]:
    """Return what the detail page shows, ready for the template."""
    submission, decision = found.submission, found.decision
    facts = decision.facts if decision is not None else {}
    contraindications = facts.get("contraindications") or []
    return {
        "detail": found,
        "submission": submission,
        "decision": decision,
        "mine": submission.assignee_id == user_id,
        "sections": _answer_sections(submission.answers or {}),
        "scores": _score_rows(submission.scores or {}),
        "fibromyalgia": (submission.scores or {}).get("fibromyalgia_acr2016"),
        "trials": _trial_rows(submission.answers or {}, decision.trials if decision is not None else None),
        "facts": facts,
        "contraindications": [vocabulary.label(vocabulary.MEDICAL_HISTORY, code) for code in contraindications],
        "choices": {
            code: label
            for code, label in DECISION_LABELS.items()
            if code != "safety_followup_done" or submission.safety_flag
        },
    }


@bp.context_processor
def _labels() -> dict[str, Any]:
    """Give the review templates their labels and the outcome titles of the active rule set."""
    return {
        "outcome_titles": outcome_titles(active_ruleset()),
        "status_labels": STATUS_LABELS,
        "decision_labels": DECISION_LABELS,
        "action_labels": ACTION_LABELS,
        "waited": waited,
        "utc": utc,
        "fact_value": fact_value,
    }


# --- The queue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page was asked to show; every value is checked before it reaches a query."""

    list: str = "action"
    outcome: str | None = None
    status: str | None = None
    assignee: str = "anyone"
    after: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], outcomes: Mapping[str, str]) -> tuple[QueueFilters, list[str]]:
        """Return the filters asked for without unknown values, and a message for each value left out."""
        chosen = {name: args.get(name) or None for name in ("list", "outcome", "status", "assignee", "after")}
        allowed = {"list": LISTS, "outcome": outcomes, "status": STATUSES, "assignee": ASSIGNEES}
        problems = []
        for name, values in allowed.items():
            if chosen[name] is not None and chosen[name] not in values:
                problems.append(f"The {name} filter was not one this page knows, so it was left out.")
                chosen[name] = None
        return cls(**{name: value for name, value in chosen.items() if value is not None}), problems

    @property
    def needs_action(self) -> bool:
        """Return True for the list of work to do, False for the list needing no action."""
        return LISTS[self.list]

    @property
    def filtered(self) -> bool:
        """Return True when a filter narrows the list."""
        return bool(self.outcome or self.status or self.assignee != "anyone")

    def args(self, **changes: str | None) -> dict[str, str]:
        """Return the query parameters of these filters (with ``changes``), leaving out the defaults."""
        values, defaults = {**self.__dict__, **changes}, QueueFilters().__dict__
        return {name: value for name, value in values.items() if value is not None and value != defaults[name]}


def _queue_page(db: orm.Session, filters: QueueFilters) -> service.QueuePage:
    """Return the page of the queue the filters ask for."""
    status, assignee_id = filters.status, None
    if filters.assignee == "me":
        assignee_id = current_user.id
    elif filters.assignee == "unassigned":
        # Claimed and decided submissions always have an assignee; open ones never do.
        if status not in (None, "open"):
            return service.QueuePage((), None)
        status = "open"
    return service.queue_page(
        db,
        outcome=filters.outcome,
        status=status,
        assignee_id=assignee_id,
        needs_action=filters.needs_action,
        after=filters.after,
    )


@bp.get("/")
def queue() -> Response | str:
    """List the open submissions, safety first, with filters, counts and a link to the next page."""
    db, ruleset = get_session(), active_ruleset()
    counts = {name: service.outcome_counts(db, needs_action) for name, needs_action in LISTS.items()}
    known = {**outcome_titles(ruleset), **counts["action"], **counts["none"]}
    filters, problems = QueueFilters.from_args(request.args, known)
    for problem in problems:
        flash(problem, ERROR)
    if problems:
        return redirect(url_for("review.queue", **filters.args()))
    try:
        page = _queue_page(db, filters)
    except ReviewInvalid as error:  # a damaged or outdated page link
        flash(error.message, ERROR)
        return redirect(url_for("review.queue", **filters.args(after=None)))
    return render_template(
        "review/queue.html",
        filters=filters,
        page=page,
        counts=counts,
        outcomes=list_outcomes(ruleset, counts[filters.list], needs_action=filters.needs_action),
        statuses=STATUSES,
        assignees=ASSIGNEES,
        now=clock.now(),
    )


# --- One submission ---------------------------------------------------------------------------


@bp.get("/submissions/<int:submission_id>")
def detail(submission_id: int) -> str:
    """Show everything about one submission and the actions open to this physician; record the view."""
    db = get_session()
    found = service.submission_detail(db, submission_id)
    viewer, at, remote_addr = current_user.user, clock.now(), request.remote_addr
    service.record_view(db, submission_id, viewer, at, remote_addr=remote_addr)
    contact = contact_panel(db, current_app.config, found.submission, viewer=viewer, now=at, remote_addr=remote_addr)
    db.commit()
    return render_template("review/detail.html", **detail_context(found, current_user.id), contact=contact, now=at)


def _act(submission_id: int, action: Action, done: str) -> Response:
    """Run one review action and commit it; say what happened on the page redirected to."""
    db = get_session()

    def step() -> str:
        action(db, current_user.user, clock.now())
        return done

    return errorpages.take_step(
        db,
        step,
        back=url_for("review.detail", submission_id=submission_id),
        gone=url_for("review.queue"),
        refused=ReviewError,
    )


@bp.post("/submissions/<int:submission_id>/claim")
def claim(submission_id: int) -> Response:
    """Take an open submission to work on it."""
    addr = request.remote_addr
    return _act(
        submission_id,
        lambda db, user, now: service.claim(db, submission_id, user, now, remote_addr=addr),
        "You have claimed this submission.",
    )


@bp.post("/submissions/<int:submission_id>/release")
def release(submission_id: int) -> Response:
    """Put a submission this physician claimed back in the open queue."""
    addr = request.remote_addr
    return _act(
        submission_id,
        lambda db, user, now: service.release(db, submission_id, user, now, remote_addr=addr),
        "You have released this submission: it is back in the open queue.",
    )


@bp.post("/submissions/<int:submission_id>/take-over")
def take_over(submission_id: int) -> Response:
    """Claim a submission another physician has claimed."""
    addr = request.remote_addr
    return _act(
        submission_id,
        lambda db, user, now: service.take_over(db, submission_id, user, now, remote_addr=addr),
        "You have taken over this submission.",
    )


@bp.post("/submissions/<int:submission_id>/decide")
def decide(submission_id: int) -> Response:
    """Record this physician's decision with its note; an open submission is claimed on the way."""
    form, addr = request.form, request.remote_addr
    decision = form.get("decision", "")
    for_patient = form.get("note_for_patient") == "y"
    return _act(
        submission_id,
        lambda db, user, now: service.decide(
            db, submission_id, user, decision, form.get("note"), for_patient, now, remote_addr=addr
        ),
        f"Decision recorded: {DECISION_LABELS.get(decision, decision)}. The submission has left the open queue.",
    )


@bp.post("/submissions/<int:submission_id>/reopen")
def reopen(submission_id: int) -> Response:
    """Put a decided submission back in the open queue, unassigned."""
    note, addr = request.form.get("note"), request.remote_addr
    return _act(
        submission_id,
        lambda db, user, now: service.reopen(db, submission_id, user, now, note, remote_addr=addr),
        "The submission is open again and back in the queue.",
    )
