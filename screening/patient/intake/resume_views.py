"""Opening a saved form from its private link, asking first when the browser already holds something else.

``/resume/<token>`` keeps the token in the session and sends the browser on to ``/resume`` at once, so the
token leaves the address bar and the history. ``/resume`` opens the form directly when the browser holds
nothing else; when it holds another form, or a signed-in clinic session, it asks first and shows when each
form was started, so that a link sent by somebody else cannot silently collect this browser's answers into
the sender's form, and a clinic user is not signed out unawares. Opening signs the clinic user out
(``sign_out``, audited); cancelling leaves everything as it was.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from ...auth.accounts import current_user
from ...auth.sessions import sign_out
from ...db import get_session
from ...errors import ScreeningError
from ...models import Draft
from . import contact_step
from . import service
from . import session_state
from .views import bp
from .views import first_incomplete
from .views import now
from .views import step_url

#: What ``sign_out`` records when a patient's resume link is opened on a signed-in browser.
SIGN_OUT_REASON = "resume_link"


@bp.get("/resume/<token>")
def resume(token: str) -> Response:
    """Keep a saved form's link (a dead one gets its error page) and drop the token from the address bar."""
    service.find_draft(get_session(), token, now=now())
    session_state.hold_resuming(token)
    return redirect(url_for("intake.resume_question"))


@bp.get("/resume")
def resume_question() -> Response | str:
    """Open the form of the link kept; ask first when the browser holds another form or a clinic session."""
    token = session_state.resuming()
    if token is None:
        return redirect(url_for("intake.welcome"))
    draft = _resuming_draft(token)
    held = _other_form(token)
    if held is None and not current_user.is_authenticated:
        return _open(token, draft)
    return render_template(
        "intake/resume.html",
        started=draft.created_at,
        held_started=held.created_at if held is not None else None,
        account=current_user if current_user.is_authenticated else None,
    )


@bp.post("/resume")
def resume_answer() -> Response:
    """Open the form (signing a clinic user out), or forget the link and leave everything as it was."""
    token = session_state.resuming()
    if token is None:
        return redirect(url_for("intake.welcome"))
    if request.form.get("action") != "open":
        session_state.drop_resuming()
        return redirect(url_for("intake.welcome"))
    draft = _resuming_draft(token)
    if current_user.is_authenticated:
        sign_out(reason=SIGN_OUT_REASON)
    return _open(token, draft)


def _resuming_draft(token: str) -> Draft:
    """Return the draft of the link kept; forget the link and raise when it no longer opens one."""
    try:
        return service.find_draft(get_session(), token, now=now())
    except ScreeningError:
        session_state.drop_resuming()
        raise


def _other_form(token: str) -> Draft | None:
    """Return the live form this browser holds when it is not the one of ``token``, else None."""
    held = session_state.draft_token()
    if held is None or held == token:
        return None
    try:
        return service.find_draft(get_session(), held, now=now())
    except ScreeningError:
        return None  # a dead link is nothing held


def _open(token: str, draft: Draft) -> Response:
    """Make ``token``'s form this browser's and go to its first step without answers."""
    session_state.forget_patient()
    session_state.hold_draft(token)
    if draft.submitted:
        return redirect(url_for("intake.done"))
    return redirect(step_url(first_incomplete(contact_step.saved(draft, current_app.config))))


def started_text(moment: datetime) -> str:
    """Return when a form was started, as the question page says it ("2 March 2026 at 09:15 UTC")."""
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


bp.add_app_template_filter(started_text, "started")
