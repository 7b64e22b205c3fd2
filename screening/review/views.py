"""The physicians' pages: the review queue and one submission, with the actions taken on it.

Views are thin: read the request, call ``service``, commit, redirect. A review error (claimed by
someone else, decided already, a bad page link) becomes a message on the page redirected to, never a 500.
"""

from __future__ import annotations

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
from ..auth import clock
from ..auth.accounts import current_user
from ..auth.roles import guard_blueprint
from ..db import get_session
from ..errorpages import ERROR
from ..fhir.download_views import bundle_download
from ..messaging import service as patient_messages
from ..models import User
from ..active_rules import active_ruleset
from . import pages
from . import service
from .contact_panel import contact_panel
from .errors import ReviewError
from .errors import ReviewInvalid
from .forms import SafetyFollowupForm
from .pages import DECISION_LABELS
from .pages import detail_context
from .pages import list_outcomes
from .pages import outcome_titles
from .queue import STATUSES

bp = Blueprint("review", __name__, url_prefix="/review")
guard_blueprint(bp, "physician", home="review.queue")

#: The two lists of the queue: ``?list=none`` shows the submissions that need no action.
LISTS = {"action": True, "none": False}
ASSIGNEES = {"anyone": "Anyone", "me": "Me", "unassigned": "Nobody (unassigned)"}

Action = Callable[[orm.Session, User, datetime], object]


@bp.context_processor
def _labels() -> dict[str, Any]:
    """Give the review templates their labels and the outcome titles of the active rule set."""
    return {"outcome_titles": outcome_titles(active_ruleset()), **pages.labels()}


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


@bp.get("/submissions/<int:submission_id>/fhir")
def fhir_bundle(submission_id: int) -> Response:
    """Download one submission as a FHIR R4 Bundle (JSON, no contact details); audited."""
    return bundle_download(submission_id)


def _act(submission_id: int, action: Action, done: str) -> Response:
    """Run one review action and commit it; say what happened on the page redirected to."""
    db = get_session()

    def step() -> str:
        action(db, current_user.user, clock.now())
        return done

    response = errorpages.take_step(
        db,
        step,
        back=url_for("review.detail", submission_id=submission_id),
        gone=url_for("review.queue"),
        refused=ReviewError,
    )
    patient_messages.enqueue_created(current_app, db)  # a decision's message to the patient; never raises
    return response


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
    contact = SafetyFollowupForm(form).contact if decision == service.SAFETY_FOLLOWUP else None
    return _act(
        submission_id,
        lambda db, user, now: service.decide(
            db,
            submission_id,
            user,
            decision,
            form.get("note"),
            for_patient,
            now,
            contact_result=contact,
            remote_addr=addr,
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
