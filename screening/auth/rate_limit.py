"""The limit on sign-in attempts per client address (Flask-Limiter); over it, the 429 page."""

from __future__ import annotations

import contextlib

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask_limiter import Limiter

LIMITER_KEY = "screening.auth.limiter"


def init_app(app: Flask) -> None:
    """Set up the limiter of sign-in attempts on ``app``."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # a 429 says when to try again (Retry-After)
    limiter = Limiter(client_key, app=app)
    limiter.request_filter(_not_a_sign_in_attempt)
    app.extensions[LIMITER_KEY] = limiter


def sign_in_limit() -> contextlib.AbstractContextManager[None]:
    """Return the per-address limit on sign-in attempts (RateLimitExceeded -> the 429 page)."""
    limiter: Limiter = current_app.extensions[LIMITER_KEY]
    if not limiter.enabled:
        return contextlib.nullcontext()
    g.counting_sign_in = True
    return limiter.limit(current_app.config["LOGIN_RATE_LIMIT"], key_func=client_key)


def _not_a_sign_in_attempt() -> bool:
    """Return True (exempt) unless this request is counting a sign-in attempt.

    Sign-in attempts are the only thing limited. Without this filter the limiter looked up the limits of every
    other request too, a patient's wizard pages among them, in its before-request hook, finding none each time.
    """
    return not g.get("counting_sign_in", False)


def client_key() -> str:
    """Return what sign-in attempts are counted by: the client's address; requests without one share a count."""
    return request.remote_addr or "unknown-address"
