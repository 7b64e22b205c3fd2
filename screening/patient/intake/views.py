"""The patient's wizard: thin views over ``screening.intake.service``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ... import alerts
from ... import errorpages
from ...config import public_url
from ...db import get_session
from ...auth import clock
from ...errors import ScreeningError
from ...models import Draft
from ...active_rules import active_ruleset
from ...answers import MAX_MEDICATION_TRIALS
from ...instruments import INSTRUMENTS
from ...instruments import PAIN_AREAS
from ...instruments import REGIONS
from . import contact_step
from . import display
from . import rows
from . import service
from . import session_state
from . import steps
from .fields import aria
from .fields import choice_input
from .fields import choice_items
from .fields import described_by
from .fields import error_list
from .fields import hint_and_errors
from .fields import render_choices

bp = Blueprint("intake", __name__)
bp.add_app_template_global(error_list)
bp.add_app_template_global(aria)
bp.add_app_template_global(choice_input)
bp.add_app_template_global(choice_items)
bp.add_app_template_global(described_by)
bp.add_app_template_global(hint_and_errors)
bp.add_app_template_global(render_choices)
bp.before_request(session_state.forget_if_idle)
bp.after_request(session_state.mark_seen)

#: Longest answer kept in the session cookie before the draft exists (consent and age are short).
PENDING_VALUE_LENGTH = 40
FROM_REVIEW = "review"
PAIN_REGIONS = [
    {"label": region.label, "areas": {area.key for area in PAIN_AREAS if area.region == region.key}}
    for region in REGIONS
]


@bp.context_processor
def _definitions() -> dict[str, Any]:
    """Give the step templates the instrument definitions they render questions from."""
    return {
        "instruments": INSTRUMENTS,
        "pain_regions": PAIN_REGIONS,
        "max_medication_rows": MAX_MEDICATION_TRIALS,
    }


@bp.errorhandler(SQLAlchemyError)
def _database_failed(error: SQLAlchemyError) -> tuple[str, int, dict[str, str]]:
    """Show the database failure page; with the full crisis section when the unsaved answers ask for it."""
    crisis_now = request.method == "POST" and service.item9_above_zero(steps.posted_pairs(request.form))
    return errorpages.handle_database_error(error, crisis_now=crisis_now)


def now() -> datetime:
    """Return the current time in UTC, from the app's clock (tests move it)."""
    return clock.now()


def _ttl() -> int:
    """Return how many days a saved form is kept."""
    return int(current_app.config["DRAFT_TTL_DAYS"])


def current_draft() -> Draft | None:
    """Return the draft of this browser session, None if there is none; raise if its link is dead."""
    token = session_state.draft_token()
    if token is None:
        return None
    try:
        return service.find_draft(get_session(), token, now=now())
    except ScreeningError:
        session_state.forget_draft()
        raise


def _saved_steps(draft: Draft | None) -> steps.SavedSteps:
    """Return what is kept of every step, including the answers kept before the draft existed."""
    if draft is not None:
        return contact_step.saved(draft, current_app.config)
    return steps.SavedSteps(pairs=session_state.pending_steps(), answers={})


def _step_pairs(step: steps.Step, draft: Draft | None) -> steps.Pairs | None:
    """Return the pairs last posted on ``step``, None when it has not been answered."""
    if draft is None:
        return session_state.pending_steps().get(step.key)
    if step.key == contact_step.KEY:
        return contact_step.pairs_of(draft, current_app.config)
    pairs: steps.Pairs | None = draft.steps.get(step.key)
    return pairs


def first_incomplete(saved: steps.SavedSteps) -> str | None:
    """Return the key of the first step without valid answers, or None when all are done."""
    step = steps.first_incomplete(saved)
    return step.key if step is not None else None


def step_url(key: str | None) -> str:
    """Return the address of a step; None means the review page."""
    if key is None:
        return url_for("intake.review")
    if key == "welcome":
        return url_for("intake.welcome")
    return url_for("intake.step", key=key)


def _resume_url() -> str | None:
    """Return this session's private resume link, once a draft exists."""
    token = session_state.draft_token()
    return public_url(current_app.config, url_for("intake.resume", token=token)) if token else None


def _render_step(step: steps.Step, form: Any, draft: Draft | None, status: int = 200) -> tuple[str, int]:
    """Render one step of the wizard."""
    posted = request.form if request.method == "POST" else {}
    context = {
        "step": step,
        "form": form,
        "number": steps.number_of(step.key),
        "total": steps.TOTAL_STEPS,
        "safety": draft is not None and draft.safety_flagged_at is not None,
        "crisis_now": step.key == "mood" and service.item9_above_zero(steps.posted_pairs(request.form)),
        "resume_url": _resume_url(),
        "from_review": posted.get("return_to", request.args.get("from")) == FROM_REVIEW,
        "has_errors": status != 200,
    }
    return render_template(f"intake/steps/{step.key}.html", **context), status


@bp.get("/")
def welcome() -> Response | tuple[str, int]:
    """Show what the intake collects and why, and ask for consent."""
    step = steps.BY_KEY["welcome"]
    draft = current_draft()
    not_ready = _redirect_if_not_ready(step.key, draft)  # after submitting: the confirmation
    if not_ready is not None:
        return not_ready
    return _render_step(step, steps.load_form(step, _step_pairs(step, draft)), draft)


@bp.post("/")
def welcome_submit() -> Response | tuple[str, int]:
    """Record consent and go on to the age question."""
    return _save_and_continue(steps.BY_KEY["welcome"])


@bp.get("/intake/<key>")
def step(key: str) -> Response | tuple[str, int]:
    """Show one step, filled with the answers saved so far."""
    current = _known_step(key)
    draft = current_draft()
    not_ready = _redirect_if_not_ready(key, draft)
    if not_ready is not None:
        return not_ready
    return _render_step(current, steps.load_form(current, _step_pairs(current, draft)), draft)


@bp.post("/intake/<key>")
def step_submit(key: str) -> Response | tuple[str, int]:
    """Save the step's answers, then move on, go back, or show what needs fixing."""
    return _save_and_continue(_known_step(key))


def _redirect_if_not_ready(key: str, draft: Draft | None) -> Response | None:
    """Return where to go instead when step ``key`` cannot be shown or saved yet, else None."""
    if draft is not None and draft.submitted:
        return redirect(url_for("intake.done"))
    if draft is None and key not in steps.BEFORE_DRAFT:
        return redirect(url_for("intake.welcome"))
    blocking = first_incomplete(_saved_steps(draft))
    if blocking is not None and steps.number_of(blocking) < steps.number_of(key):
        return redirect(step_url(blocking))
    return None


def _known_step(key: str) -> steps.Step:
    """Return the step called ``key``, or answer 404."""
    if key not in steps.BY_KEY or key == "welcome":
        abort(404)
    return steps.BY_KEY[key]


def _save_and_continue(step: steps.Step) -> Response | tuple[str, int]:
    """Handle a step's POST: keep every answer posted, then navigate."""
    draft = current_draft()
    not_ready = _redirect_if_not_ready(step.key, draft)
    if not_ready is not None:
        return not_ready
    pairs = steps.posted_pairs(request.form)
    action, row = rows.row_action(request.form.get("action", "next")) or abort(400)
    pairs = rows.apply_row_action(pairs, action, row)
    form = steps.load_form(step, pairs)
    valid = form.validate()
    if step.key == "age" and valid and form.age.data < 18:
        return _stop_under_age(draft)
    draft = _store(step, pairs, draft, step.to_answers(form) if valid else None)
    if action in {"add", "remove"}:
        returning = "?from=review" if request.form.get("return_to") == FROM_REVIEW else ""
        return redirect(step_url(step.key) + returning + "#medications")
    if not valid and action == "next":
        return _render_step(step, form, draft, status=422)
    target = _destination(step, action, draft)
    if step.key == "mood" and service.item9_above_zero(pairs):
        return redirect(url_for("intake.support", next=target))
    return redirect(_url_for_destination(target))


def _store(step: steps.Step, pairs: steps.Pairs, draft: Draft | None, answers: dict[str, Any] | None) -> Draft | None:
    """Keep the answers: in the session before the age step, in the draft from then on.

    ``answers`` is the step's part of the answers document, None when the pairs are not valid.
    """
    if draft is not None and step.key == contact_step.KEY:
        service.save_contact(draft, current_app.config, pairs, now=now(), ttl_days=_ttl())
        get_session().commit()
        return draft
    if draft is not None:
        service.save_step(draft, step.key, pairs, answers, now=now(), ttl_days=_ttl())
        get_session().commit()
        return draft
    pending = {**session_state.pending_steps(), step.key: _cookie_pairs(step, pairs)}
    if step.key != "age" or answers is None:
        session_state.keep_pending_steps(pending)
        return None
    created = service.create_draft(get_session(), pending, now=now(), ttl_days=_ttl())
    get_session().commit()
    session_state.hold_draft(created.token)
    return created.draft


def _cookie_pairs(step: steps.Step, pairs: steps.Pairs) -> steps.Pairs:
    """Return only the step's own answers, shortened: the signed session cookie must stay small."""
    names = {field.name for field in step.form()}
    return [[name, value[:PENDING_VALUE_LENGTH]] for name, value in pairs if name in names][: len(names)]


def _stop_under_age(draft: Draft | None) -> Response:
    """Delete everything kept so far and show the adults-only page."""
    if draft is not None:
        get_session().delete(draft)
        get_session().commit()
    session.clear()
    return redirect(url_for("intake.adults_only"))


def _destination(step: steps.Step, action: str, draft: Draft | None) -> str:
    """Return where a valid post leads: a step key, "review" or "saved"."""
    if action == "save":
        return "saved"
    index = steps.STEPS.index(step)
    if action == "back":
        return steps.STEPS[max(index - 1, 0)].key
    returning = request.form.get("return_to") == FROM_REVIEW
    if index + 1 == len(steps.STEPS) or (returning and first_incomplete(_saved_steps(draft)) is None):
        return "review"
    return steps.STEPS[index + 1].key


def _url_for_destination(target: str | None) -> str:
    """Return the address of a destination named by ``_destination``; unknown names go to review."""
    if target == "saved":
        return url_for("intake.saved")
    if target in steps.BY_KEY:
        return step_url(target)
    return url_for("intake.review")


@bp.get("/intake/support")
def support() -> str:
    """Show crisis resources at once after a positive answer to PHQ-9 item 9."""
    next_url = _url_for_destination(request.args.get("next"))
    return render_template("intake/support.html", next_url=next_url)


@bp.get("/intake/review")
def review() -> Response | str:
    """Show every answer with a link to change it, and the submit button."""
    draft = current_draft()
    not_ready = _redirect_if_not_ready("review", draft)
    if not_ready is not None or draft is None:
        return not_ready or redirect(url_for("intake.welcome"))
    document = steps.build_document(_saved_steps(draft))
    return render_template(
        "intake/review.html",
        sections=display.sections(document),
        contact=contact_step.details_of(draft, current_app.config),
        number=steps.TOTAL_STEPS,
        total=steps.TOTAL_STEPS,
        safety=draft.safety_flagged_at is not None,
        resume_url=_resume_url(),
    )


@bp.post("/intake/review")
def submit() -> Response:
    """Store the submission once, however often the button is pressed."""
    draft = current_draft()
    if draft is None:
        return redirect(url_for("intake.welcome"))
    db = get_session()
    try:
        submitted = service.submit_draft(
            db, draft, ruleset=active_ruleset(), now=now(), remote_addr=request.remote_addr, config=current_app.config
        )
        db.commit()
        if submitted.status_token is not None:  # a double submit keeps the first link
            session_state.keep_status_token(submitted.status_token)
        alerts.enqueue_created(current_app, db)  # a safety submission's e-mail; never raises
    except IntegrityError:
        db.rollback()  # the same draft was submitted at the same moment elsewhere: that one stands
    except steps.StepIncomplete as incomplete:
        db.rollback()
        return redirect(step_url(incomplete.step.key))
    return redirect(url_for("intake.done"))


@bp.get("/intake/saved")
def saved() -> Response | str:
    """Show the private link that resumes this form."""
    if current_draft() is None:
        return redirect(url_for("intake.welcome"))
    days = _ttl()
    return render_template("intake/saved.html", resume_url=_resume_url(), days=days)


@bp.get("/adults-only")
def adults_only() -> str:
    """Explain that the clinic sees adults only; crisis resources are on this page too."""
    return render_template("intake/adults_only.html")
