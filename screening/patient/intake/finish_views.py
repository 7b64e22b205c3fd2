"""The confirmation page, shown once, and "Finish and clear this page": the next person starts a new form.

On a shared device (a family computer, a clinic tablet) whoever opens the site next must not see the
previous patient's reference, status link or the self-harm wording. So the confirmation is shown once and
the browser's session then forgets the submission; the status link is shown that once, and the page says so.
"""

from __future__ import annotations

from flask import current_app
from flask import redirect
from flask import render_template
from flask import url_for
from werkzeug.wrappers import Response

from ...config import public_url
from ...contacts.service import has_contact
from ...db import get_session
from ...decisions import FALLBACK_ERROR_MESSAGE
from ...decisions import latest_decision
from ...decisions import patient_notes
from ...models import Submission
from ..status.service import hash_status_token
from . import service
from . import session_state
from .views import bp
from .views import current_draft


@bp.get("/intake/done")
def done() -> Response | str:
    """Show the reference code once, crisis resources straight under the title when they apply; then forget it."""
    draft = current_draft()
    submission = service.submission_for(get_session(), draft) if draft is not None else None
    if draft is None or submission is None:
        return redirect(url_for("intake.welcome"))
    decision = latest_decision(get_session(), submission)
    status_url = _status_url(session_state.take_status_token(), submission)
    safety = service.safety_flagged(draft, submission)
    page = render_template(
        "intake/done.html",
        reference=submission.reference,
        status_url=status_url,
        safety=safety,
        message=decision.message if decision else FALLBACK_ERROR_MESSAGE,
        notes=patient_notes(decision, beside_crisis_help=safety) if decision else [],
        declined_contact=not has_contact(get_session(), submission.id),
    )
    session_state.forget_patient()  # shown once: opening the site again starts a new form
    return page


def _status_url(token: str | None, submission: Submission) -> str | None:
    """Return the private status link of ``submission`` when ``token`` is its token, else None."""
    if token is None or hash_status_token(token) != submission.status_token_hash:
        return None
    return public_url(current_app.config, url_for("status.show", token=token))


@bp.post("/intake/finish")
def finish() -> Response:
    """Clear the patient's session and land on a fresh start page."""
    session_state.forget_patient()
    return redirect(url_for("intake.welcome"))
