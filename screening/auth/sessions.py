"""Signed-in sessions: a new one at each sign-in, ended when idle or alive too long, or when its user changed.

Sign-in starts a new session (old content cleared, fresh nonce); an idle timeout and an absolute lifetime
end it, and so does a change of the user's session version (see ``accounts``). The times come from
``clock.now()``. ``sign_out(reason=...)`` ends it on purpose (the sign-out button, a patient's resume link
opened on a signed-in browser), audited with its reason. A session that ends on a page whose address is a
secret (``security.TOKEN_ENDPOINTS``: a resume or status link) is never sent to the sign-in page with it:
the page goes on for an anonymous visitor.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from werkzeug.wrappers import Response

from .. import audit
from ..db import get_session
from ..models import User
from ..security import TOKEN_ENDPOINTS
from . import clock
from .accounts import Account
from .roles import this_page

EXPIRED_MESSAGE = "You were signed out because you were inactive or signed in for too long. Please sign in again."
ENDED_MESSAGE = "Your session has ended. Please sign in again."

#: Session keys: when this sign-in started, when it was last used, and a random value per sign-in.
STARTED = "auth_started"
SEEN = "auth_seen"
NONCE = "auth_nonce"
#: The notes of when a browser was last seen (here and in the patient's session) move in steps of this many
#: seconds: a request within a minute of the last note leaves the session as it was, so the response does not
#: sign and send the cookie again. An idle timeout may end a session up to this much early, never late.
SEEN_STEP_SECONDS = 60
#: The blueprint of the sign-in pages (``views.bp``), which show why a session ended themselves.
SIGN_IN_BLUEPRINT = "auth"


def start_session(user: User) -> None:
    """Replace whatever the browser's session held with a new signed-in session."""
    session.clear()
    login_user(Account(user))
    stamp = int(clock.now().timestamp())
    session[STARTED] = stamp
    session[SEEN] = stamp
    session[NONCE] = secrets.token_urlsafe(16)


def sign_out(*, reason: str) -> None:
    """Sign out here and end the user's other sessions (a bumped session version), audited with ``reason``."""
    if current_user.is_authenticated:
        user: User = current_user.user
        db = get_session()
        user.session_version += 1
        audit.record(
            db,
            actor=current_user.actor,
            action="auth.signed_out",
            subject_type="user",
            subject_id=user.id,
            at=clock.now(),
            remote_addr=request.remote_addr,
            details={"reason": reason},
        )
        db.commit()
    logout_user()
    session.clear()


def enforce_session_lifetime() -> Response | None:
    """End a session that has been idle or alive too long, or whose user was disabled or changed."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    moment = clock.now().timestamp()
    started, seen = session.get(STARTED), session.get(SEEN)
    config = current_app.config
    if not isinstance(started, int | float) or not isinstance(seen, int | float):
        return _end_session(ENDED_MESSAGE)
    if moment - seen > float(config["SESSION_IDLE_MINUTES"]) * 60:
        return _end_session(EXPIRED_MESSAGE, reason="idle")
    if moment - started > float(config["SESSION_MAX_HOURS"]) * 3600:
        return _end_session(EXPIRED_MESSAGE, reason="lifetime")
    if not current_user.is_authenticated:
        return _end_session(ENDED_MESSAGE)
    note_seen(session, SEEN, moment)
    return None


def note_seen(held: MutableMapping[str, Any], key: str, moment: float) -> None:
    """Note in ``held[key]`` that the browser was seen at ``moment``, unless the note is under a step old."""
    seen = held.get(key)
    if not isinstance(seen, int | float) or not 0 <= moment - seen < SEEN_STEP_SECONDS:
        held[key] = int(moment)


def _end_session(message: str, *, reason: str | None = None) -> Response | None:
    """Sign out, say why on the sign-in page, and send the visitor there."""
    if reason is not None:
        user_id = str(session.get("_user_id", "")).partition(":")[0]
        audit.record(
            get_session(),
            actor=f"user:{user_id}",
            action="auth.session_expired",
            subject_type="user",
            subject_id=int(user_id) if user_id.isascii() and user_id.isdigit() else None,
            at=clock.now(),
            remote_addr=request.remote_addr,
            details={"reason": reason},
        )
        get_session().commit()
    logout_user()
    session.clear()
    if request.endpoint in TOKEN_ENDPOINTS:
        return None  # the address holds a link's token: it must never reach the sign-in page's address
    flash(message)
    if request.blueprint == SIGN_IN_BLUEPRINT:
        return None
    return redirect(url_for("auth.login", next=this_page()))
