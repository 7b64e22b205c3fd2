"""The patient's wizard: thin views over ``screening.intake.service``."""

from __future__ import annotations

from datetime import UTC
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
from ...decisions import FALLBACK_ERROR_MESSAGE
from ...decisions import latest_decision
from ...decisions import patient_notes
from ...errors import ScreeningError
from ...models import Draft
from ..status.service import hash_status_token
from ...active_rules import active_ruleset
from ...answers import MAX_MEDICATION_TRIALS
from ...contacts.service import has_contact
from ...instruments import INSTRUMENTS
from ...instruments import PAIN_AREAS
from ...instruments import REGIONS
from . import contact_step
from . import display
from . import rows
from . import service
from . import steps
from .fields import aria
from .fields import error_list

bp = Blueprint("intake", __name__)
bp.add_app_template_global(error_list)
bp.add_app_template_global(aria)

DRAFT_TOKEN = "draft_token"
#: The token of the patient's private status link, kept so the confirmation page can show it.
STATUS_TOKEN = "status_token"
#: Answers to the steps before the draft exists (consent), kept in the signed session cookie.
PENDING = "pending_steps"
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


def _now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def _ttl() -> int:
    """Return how many days a saved form is kept."""
    return int(current_app.config["DRAFT_TTL_DAYS"])


def _current_draft() -> Draft | None:
    """Return the draft of this browser session, None if there is none; raise if its link is dead."""
    token = session.get(DRAFT_TOKEN)
    if token is None:
        return None
    try:
        return service.find_draft(get_session(), token, now=_now())
    except ScreeningError:
        session.pop(DRAFT_TOKEN, None)
        raise


def _saved_steps(draft: Draft | None) -> dict[str, steps.Pairs]:
    """Return the saved answers of every step, including those kept before the draft existed."""
    if draft is not None:
        return contact_step.saved_steps(draft, current_app.config)
    return dict(session.get(PENDING, {}))


def _first_incomplete(saved: dict[str, steps.Pairs]) -> str | None:
    """Return the key of the first step without valid answers, or None when all are done."""
    for step in steps.STEPS:
        if steps.validated_answers(step, saved.get(step.key)) is None:
            return step.key
    return None


def _step_url(key: str | None) -> str:
    """Return the address of a step; None means the review page."""
    if key is None:
        return url_for("intake.review")
    if key == "welcome":
        return url_for("intake.welcome")
    return url_for("intake.step", key=key)


def _resume_url() -> str | None:
    """Return this session's private resume link, once a draft exists."""
    token = session.get(DRAFT_TOKEN)
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
    draft = _current_draft()
    not_ready = _redirect_if_not_ready(step.key, draft)  # after submitting: the confirmation
    if not_ready is not None:
        return not_ready
    return _render_step(step, steps.load_form(step, _saved_steps(draft).get("welcome")), draft)


@bp.post("/")
def welcome_submit() -> Response | tuple[str, int]:
    """Record consent and go on to the age question."""
    return _save_and_continue(steps.BY_KEY["welcome"])


@bp.get("/intake/<key>")
def step(key: str) -> Response | tuple[str, int]:
    """Show one step, filled with the answers saved so far."""
    current = _known_step(key)
    draft = _current_draft()
    not_ready = _redirect_if_not_ready(key, draft)
    if not_ready is not None:
        return not_ready
    return _render_step(current, steps.load_form(current, _saved_steps(draft).get(key)), draft)


@bp.post("/intake/<key>")
def step_submit(key: str) -> Response | tuple[str, int]:
    """Save the step's answers, then move on, go back, or show what needs fixing."""
    return _save_and_continue(_known_step(key))


def _redirect_if_not_ready(key: str, draft: Draft | None) -> Response | None:
    """Return where to go instead when step ``key`` cannot be shown or saved yet, else None."""
    if draft is not None and service.submission_for(get_session(), draft) is not None:
        return redirect(url_for("intake.done"))
    if draft is None and key not in steps.BEFORE_DRAFT:
        return redirect(url_for("intake.welcome"))
    blocking = _first_incomplete(_saved_steps(draft))
    if blocking is not None and steps.number_of(blocking) < steps.number_of(key):
        return redirect(_step_url(blocking))
    return None


def _known_step(key: str) -> steps.Step:
    """Return the step called ``key``, or answer 404."""
    if key not in steps.BY_KEY or key == "welcome":
        abort(404)
    return steps.BY_KEY[key]


def _save_and_continue(step: steps.Step) -> Response | tuple[str, int]:
    """Handle a step's POST: keep every answer posted, then navigate."""
    draft = _current_draft()
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
    draft = _store(step, pairs, draft, valid)
    if action in {"add", "remove"}:
        returning = "?from=review" if request.form.get("return_to") == FROM_REVIEW else ""
        return redirect(_step_url(step.key) + returning + "#medications")
    if not valid and action == "next":
        return _render_step(step, form, draft, status=422)
    target = _destination(step, action, draft)
    if step.key == "mood" and service.item9_above_zero(pairs):
        return redirect(url_for("intake.support", next=target))
    return redirect(_url_for_destination(target))


def _store(step: steps.Step, pairs: steps.Pairs, draft: Draft | None, valid: bool) -> Draft | None:
    """Keep the answers: in the session before the age step, in the draft from then on."""
    if draft is not None and step.key == contact_step.KEY:
        service.save_contact(draft, current_app.config, pairs, now=_now(), ttl_days=_ttl())
        get_session().commit()
        return draft
    if draft is not None:
        service.save_step(draft, step.key, pairs, now=_now(), ttl_days=_ttl())
        get_session().commit()
        return draft
    pending = {**session.get(PENDING, {}), step.key: _cookie_pairs(step, pairs)}
    if step.key != "age" or not valid:
        session[PENDING] = pending
        return None
    created = service.create_draft(get_session(), pending, now=_now(), ttl_days=_ttl())
    get_session().commit()
    session.pop(PENDING, None)
    session[DRAFT_TOKEN] = created.token
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
    if index + 1 == len(steps.STEPS) or (returning and _first_incomplete(_saved_steps(draft)) is None):
        return "review"
    return steps.STEPS[index + 1].key


def _url_for_destination(target: str | None) -> str:
    """Return the address of a destination named by ``_destination``; unknown names go to review."""
    if target == "saved":
        return url_for("intake.saved")
    if target in steps.BY_KEY:
        return _step_url(target)
    return url_for("intake.review")


@bp.get("/intake/support")
def support() -> str:
    """Show crisis resources at once after a positive answer to PHQ-9 item 9."""
    next_url = _url_for_destination(request.args.get("next"))
    return render_template("intake/support.html", next_url=next_url)


@bp.get("/intake/review")
def review() -> Response | str:
    """Show every answer with a link to change it, and the submit button."""
    draft = _current_draft()
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
    draft = _current_draft()
    if draft is None:
        return redirect(url_for("intake.welcome"))
    db = get_session()
    try:
        submitted = service.submit_draft(
            db, draft, ruleset=active_ruleset(), now=_now(), remote_addr=request.remote_addr, config=current_app.config
        )
        db.commit()
        if submitted.status_token is not None:  # a double submit keeps the first link
            session[STATUS_TOKEN] = submitted.status_token
        alerts.enqueue_created(current_app, db)  # a safety submission's e-mail; never raises
    except IntegrityError:
        db.rollback()  # the same draft was submitted at the same moment elsewhere: that one stands
    except steps.StepIncomplete as incomplete:
        db.rollback()
        return redirect(_step_url(incomplete.step.key))
    return redirect(url_for("intake.done"))


@bp.get("/intake/done")
def done() -> Response | str:
    """Show the reference code, with crisis resources first when they apply."""
    draft = _current_draft()
    submission = service.submission_for(get_session(), draft) if draft is not None else None
    if draft is None or submission is None:
        return redirect(url_for("intake.welcome"))
    decision = latest_decision(get_session(), submission)
    token = session.get(STATUS_TOKEN)
    status_url = None
    if isinstance(token, str) and hash_status_token(token) == submission.status_token_hash:
        status_url = public_url(current_app.config, url_for("status.show", token=token))
    return render_template(
        "intake/done.html",
        reference=submission.reference,
        status_url=status_url,
        safety=service.safety_flagged(draft, submission),
        message=decision.message if decision else FALLBACK_ERROR_MESSAGE,
        notes=patient_notes(decision) if decision else [],
        declined_contact=not has_contact(get_session(), submission.id),
    )


@bp.get("/intake/saved")
def saved() -> Response | str:
    """Show the private link that resumes this form."""
    if _current_draft() is None:
        return redirect(url_for("intake.welcome"))
    days = _ttl()
    return render_template("intake/saved.html", resume_url=_resume_url(), days=days)


@bp.get("/resume/<token>")
def resume(token: str) -> Response:
    """Open a saved form from its private link, then drop the token from the address bar."""
    draft = service.find_draft(get_session(), token, now=_now())
    session.clear()
    session[DRAFT_TOKEN] = token
    if service.submission_for(get_session(), draft) is not None:
        return redirect(url_for("intake.done"))
    return redirect(_step_url(_first_incomplete(_saved_steps(draft))))


@bp.get("/adults-only")
def adults_only() -> str:
    """Explain that the clinic sees adults only; crisis resources are on this page too."""
    return render_template("intake/adults_only.html")
