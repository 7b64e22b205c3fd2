"""The patient's private status page, opened from the link on the confirmation page. Open to everyone.

The token in the address is the only key (256 bits, only its sha256 is stored); ``screening.security``
keeps it out of the request logs, and the Referrer-Policy header keeps it from other sites.
"""

from __future__ import annotations

from flask import Blueprint
from flask import render_template

from ...db import get_session
from .service import patient_status

bp = Blueprint("status", __name__)

#: What the patient reads for each state of ``screening.status.service.STATES``.
STATE_TEXTS = {
    "received": (
        "Received",
        "We have received your answers. A clinician has not looked at them yet.",
    ),
    "under_review": ("Under review", "A clinician is reviewing your answers."),
    "contact": (
        "A clinician will contact you",
        "A clinician has reviewed your answers and will contact you about the next steps.",
    ),
}


@bp.get("/status/<token>")
def show(token: str) -> str:
    """Show where the request stands; an unknown token gets the 404 page."""
    status = patient_status(get_session(), token)
    label, explanation = STATE_TEXTS[status.state]
    return render_template("status/status.html", status=status, label=label, explanation=explanation)
