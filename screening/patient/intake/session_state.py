"""What a patient's browser session holds, and the one place that reads, writes and forgets it.

The signed session cookie is readable by whoever uses the browser next (a family computer, a clinic tablet),
so it holds as little as it can, and never a reference code: the resume token of the form in progress, the
status link token until the confirmation has shown it once, the answers of the steps before the draft exists
(consent and age, shortened), a resume link opened but not yet confirmed, and when the patient was last seen.
A session idle for ``PATIENT_IDLE_MINUTES`` forgets all of it (the draft stays: its resume link opens it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask import session
from werkzeug.wrappers import Response

from ...auth import clock
from ...auth.sessions import note_seen

#: The resume token of the form this browser fills in.
DRAFT = "draft_token"
#: The token of the patient's private status link, kept until the confirmation page has shown it once.
STATUS = "status_token"
#: Answers to the steps before the draft exists (consent), kept in the signed session cookie.
PENDING = "pending_steps"
#: A resume link opened in this browser, waiting for the patient to say whether to open its form.
RESUMING = "resume_token"
#: When this patient last made a request (seconds since the epoch), for the idle timeout.
SEEN = "patient_seen"
#: What the patient's session holds besides SEEN; a session holding none of it is not a patient's.
HELD = (DRAFT, STATUS, PENDING, RESUMING)

Pairs = list[list[str]]


def draft_token() -> str | None:
    """Return the resume token of the form this browser holds, if any."""
    return _text(session.get(DRAFT))


def hold_draft(token: str) -> None:
    """Make ``token``'s form the one this browser fills in; answers kept before the draft existed go."""
    session.pop(PENDING, None)
    session[DRAFT] = token


def forget_draft() -> None:
    """Forget the form this browser held (its resume link still opens it)."""
    session.pop(DRAFT, None)


def pending_steps() -> dict[str, Pairs]:
    """Return the answers kept before the draft exists, by step."""
    pending = session.get(PENDING)
    return dict(pending) if isinstance(pending, dict) else {}


def keep_pending_steps(pending: dict[str, Pairs]) -> None:
    """Keep the answers of the steps before the draft exists."""
    session[PENDING] = pending


def keep_status_token(token: str) -> None:
    """Keep the status link token until the confirmation page shows it."""
    session[STATUS] = token


def take_status_token() -> str | None:
    """Return the status link token and forget it: the confirmation shows it once."""
    return _text(session.pop(STATUS, None))


def resuming() -> str | None:
    """Return the token of a resume link opened here and not yet answered, if any."""
    return _text(session.get(RESUMING))


def hold_resuming(token: str) -> None:
    """Keep a resume link's token until the patient says whether to open its form."""
    session[RESUMING] = token


def drop_resuming() -> None:
    """Forget a resume link not opened; everything else stays as it was."""
    session.pop(RESUMING, None)


def forget_patient() -> None:
    """Forget everything the patient's session holds; a clinic sign-in and the CSRF token stay."""
    for key in (*HELD, SEEN):
        session.pop(key, None)


def holds_patient_state() -> bool:
    """Tell whether this session holds anything of a patient's."""
    return any(key in session for key in HELD)


def idle_limit(minutes: float) -> timedelta:
    """Return how long a patient's session may stay unused."""
    return timedelta(minutes=minutes)


def forget_if_idle() -> None:
    """Forget the patient's session when it was unused for ``PATIENT_IDLE_MINUTES`` (a before_request hook)."""
    seen = session.get(SEEN)
    if not holds_patient_state() or not isinstance(seen, int | float):
        return
    limit = idle_limit(float(current_app.config["PATIENT_IDLE_MINUTES"]))
    if clock.now().timestamp() - seen >= limit.total_seconds():
        forget_patient()


def mark_seen(response: Response) -> Response:
    """Note when the patient was last seen, while the session holds anything of theirs (an after_request hook)."""
    if holds_patient_state():
        note_seen(session, SEEN, clock.now().timestamp())
    elif SEEN in session:  # only then: an untouched session sends no cookie
        session.pop(SEEN)
    return response


def _text(value: Any) -> str | None:
    """Return ``value`` when it is a non-empty string (a cookie edited by hand may hold anything), else None."""
    return value if isinstance(value, str) and value else None
