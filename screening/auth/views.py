"""Sign-in and sign-out, session lifetimes, and the role guard every clinic blueprint installs once.

Public API for the other blueprints::

    from screening.auth import current_user, guard_blueprint

    bp = Blueprint("review", __name__, url_prefix="/review")
    guard_blueprint(bp, "physician", home="review.queue")

``guard_blueprint(bp, *roles, home=None)`` installs ONE ``before_request`` on ``bp``: an anonymous
visitor (or a user whose session ended) is redirected to ``/login?next=<this page>`` (GET/HEAD only),
a signed-in user whose role is not in ``roles`` gets the 403 page. Every route added to ``bp`` is
therefore protected by default. ``home`` names the endpoint a user of those roles lands on after
signing in without a ``next`` page (or maps some of the roles to their endpoint, leaving the others'
homes alone). Call it at import time, before the blueprint is registered.

``require_roles(*roles)`` narrows one view of a guarded blueprint to fewer roles: the others get the
same 403 page. The decorated view carries them as ``required_roles``, for the access matrix.

``current_user`` (Flask-Login's proxy) is an ``Account`` when signed in: ``.id``, ``.email``, ``.role``
(one of ``ROLES``), ``.actor`` (``"user:<id>"``, for ``audit.record``), ``.user`` (the ``User`` row,
attached to this request's ``db.get_session()``) and ``.has_role(*roles)``. When nobody is signed in
it is an ``Anonymous`` with ``is_authenticated`` False, ``.id``/``.role`` None and ``.actor``
``"anonymous"``. In templates, ``signed_in_account()`` returns the Account or None.

Sessions: the Flask-Login user id is ``"<id>:<session_version>"``, so bumping ``User.session_version``
(disable, role change, sign-out) ends every session of that user at its next request; disabled users
never load. Sign-in starts a new session (old content cleared, fresh nonce); an idle timeout and an
absolute lifetime end it. ``now()`` is the clock of this module: tests monkeypatch it.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_limiter import Limiter
from flask_login import AnonymousUserMixin
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response
from wtforms import EmailField
from wtforms import Form
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from .. import audit
from .. import passwords
from ..db import get_session
from ..models import User

__all__ = ["ROLES", "Account", "Anonymous", "current_user", "guard_blueprint", "init_app", "now", "require_roles"]

#: physician: reviews and decides; staff: tunes rules; admin: manages users and reads the audit log.
ROLES = ("physician", "staff", "admin")

FAILED_MESSAGE = "Email or password is not correct, or the account is temporarily locked."
EXPIRED_MESSAGE = "You were signed out because you were inactive or signed in for too long. Please sign in again."
ENDED_MESSAGE = "Your session has ended. Please sign in again."
SIGNED_OUT_MESSAGE = "You have signed out."

#: Session keys: when this sign-in started, when it was last used, and a random value per sign-in.
STARTED = "auth_started"
SEEN = "auth_seen"
NONCE = "auth_nonce"
LIMITER_KEY = "screening.auth.limiter"
#: Where each role lands after signing in, filled by guard_blueprint(..., home=...).
HOMES: dict[str, str] = {}
#: blueprint name -> the roles that may use it, for access-matrix tests.
GUARDED: dict[str, frozenset[str]] = {}

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class Account(UserMixin):
    """A signed-in clinic user, as Flask-Login sees them."""

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def id(self) -> int:  # type: ignore[override]
        """Return the user's id."""
        return self.user.id

    @property
    def email(self) -> str:
        """Return the user's email."""
        return self.user.email

    @property
    def role(self) -> str:
        """Return the user's role."""
        return self.user.role

    @property
    def actor(self) -> str:
        """Return how audit events name this user."""
        return f"user:{self.user.id}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Return False for a disabled user."""
        return not self.user.disabled

    def get_id(self) -> str:
        """Return the session's user id: it stops matching when the user's session version changes."""
        return f"{self.user.id}:{self.user.session_version}"

    def has_role(self, *roles: str) -> bool:
        """Return True when the user has one of ``roles``."""
        return self.user.role in roles


class Anonymous(AnonymousUserMixin):
    """Nobody signed in: a patient, or a clinic user whose session ended."""

    id = None
    email = None
    role = None
    actor = passwords.ANONYMOUS

    def has_role(self, *roles: str) -> bool:
        """Return False: an anonymous visitor has no role."""
        return False


class SignInForm(Form):
    """Email and password; ``next`` is the local page to return to."""

    email = EmailField(
        "Email address",
        validators=[InputRequired("Enter your email address."), Length(max=254, message="Enter a shorter email.")],
    )
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    next = HiddenField()


def init_app(app: Flask) -> None:
    """Set up Flask-Login, the sign-in rate limit, the session lifetime check and the auth pages."""
    login_manager.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # a 429 says when to try again (Retry-After)
    app.extensions[LIMITER_KEY] = Limiter(client_key, app=app)
    app.before_request(enforce_session_lifetime)
    app.add_template_global(signed_in_account)
    app.register_blueprint(bp)


login_manager.anonymous_user = Anonymous
login_manager.login_view = "auth.login"
# Our own session checks replace Flask-Login's address binding, which writes into every patient's
# cookie and breaks on mobile networks.
login_manager.session_protection = None  # type: ignore[assignment]


@login_manager.user_loader
def load_account(user_id: str) -> Account | None:
    """Return the account of a session, or None if the user is gone, disabled or changed since."""
    key, _, version = user_id.partition(":")
    try:
        user = get_session().get(User, int(key))
        expected = int(version)
    except ValueError:
        return None
    if user is None or user.disabled or user.session_version != expected:
        return None
    return Account(user)


def signed_in_account() -> Account | None:
    """Return the signed-in account for templates; None when nobody is, or the database is unreachable."""
    try:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
    except SQLAlchemyError:
        return None
    return user if isinstance(user, Account) else None


def guard_blueprint(bp: Blueprint, *roles: str, home: str | Mapping[str, str] | None = None) -> None:
    """Let only signed-in users with one of ``roles`` use ``bp``; see the module docstring."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"guard_blueprint needs roles from {ROLES}, got {roles!r}")
    allowed = frozenset(roles)

    def guard() -> Response | None:
        """Send anonymous visitors to sign in; refuse other roles."""
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=_this_page()))
        if current_user.role not in allowed:
            abort(403)
        return None

    guard.__name__ = f"guard_{bp.name}"
    bp.before_request(guard)
    GUARDED[bp.name] = allowed
    homes: Mapping[str, str] = home if isinstance(home, Mapping) else {role: home for role in roles if home}
    for role, endpoint in homes.items():
        HOMES.setdefault(role, endpoint)


View = TypeVar("View", bound=Callable[..., Any])


def require_roles(*roles: str) -> Callable[[View], View]:
    """Let only users with one of ``roles`` use the decorated view (a 403 page for the others); see the docstring."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require_roles needs roles from {ROLES}, got {roles!r}")
    allowed = frozenset(roles)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=_this_page()))
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = allowed  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _this_page() -> str | None:
    """Return the current page to come back to after signing in; only for GET and HEAD."""
    if request.method not in {"GET", "HEAD"}:
        return None
    return request.full_path.rstrip("?")


def safe_next(target: str | None) -> str | None:
    """Return ``target`` when it is a path on this site (never another host), else None."""
    if not target or len(target) > 2000 or not target.isprintable() or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if parts.path in {url_for("auth.login"), url_for("auth.logout")}:
        return None
    return target


def landing_page(target: str | None, role: str | None) -> str:
    """Return where to go after signing in: a safe ``next`` page, else the role's home."""
    safe = safe_next(target)
    if safe is not None:
        return safe
    endpoint = HOMES.get(role or "")
    if endpoint is not None and endpoint in current_app.view_functions:
        return url_for(endpoint)
    return url_for("intake.welcome")


def enforce_session_lifetime() -> Response | None:
    """End a session that has been idle or alive too long, or whose user was disabled or changed."""
    if request.endpoint == "static" or "_user_id" not in session:
        return None
    moment = now().timestamp()
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
    session[SEEN] = int(moment)
    return None


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
            at=now(),
            remote_addr=request.remote_addr,
            details={"reason": reason},
        )
        get_session().commit()
    logout_user()
    session.clear()
    flash(message)
    if request.blueprint == bp.name:
        return None
    return redirect(url_for("auth.login", next=_this_page()))


def _rate_limit() -> contextlib.AbstractContextManager[None]:
    """Return the per-address limit on sign-in attempts (RateLimitExceeded -> the 429 page)."""
    limiter: Limiter = current_app.extensions[LIMITER_KEY]
    if not limiter.enabled:
        return contextlib.nullcontext()
    return limiter.limit(current_app.config["LOGIN_RATE_LIMIT"], key_func=client_key)


def client_key() -> str:
    """Return what sign-in attempts are counted by: the client's address; requests without one share a count."""
    return request.remote_addr or "unknown-address"


def _render_login(form: SignInForm, *, failed: bool = False, status: int = 200) -> tuple[str, int]:
    """Render the sign-in page."""
    return render_template(
        "auth/login.html", form=form, failed=failed, failed_message=FAILED_MESSAGE, has_errors=status != 200
    ), status


@bp.get("/login")
def login() -> Response | tuple[str, int]:
    """Show the sign-in form; a signed-in user goes on to their page."""
    target = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(landing_page(target, current_user.role))
    return _render_login(SignInForm(data={"next": safe_next(target) or ""}))


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    """Check the credentials; on success start a new session and go on."""
    with _rate_limit():
        form = SignInForm(request.form)
        if not form.validate():
            return _render_login(form, status=422)
        db = get_session()
        policy = passwords.LockPolicy(
            max_failures=int(current_app.config["LOGIN_MAX_FAILURES"]),
            lock_for=timedelta(minutes=float(current_app.config["LOGIN_LOCK_MINUTES"])),
        )
        user = passwords.sign_in(
            db,
            form.email.data or "",
            form.password.data or "",
            now=now(),
            policy=policy,
            remote_addr=request.remote_addr,
        )
        db.commit()
        if user is None:
            return _render_login(form, failed=True, status=422)
        start_session(user)
        return redirect(landing_page(form.next.data, user.role))


def start_session(user: User) -> None:
    """Replace whatever the browser's session held with a new signed-in session."""
    session.clear()
    login_user(Account(user))
    stamp = int(now().timestamp())
    session[STARTED] = stamp
    session[SEEN] = stamp
    session[NONCE] = secrets.token_urlsafe(16)


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and end the user's other sessions; a replayed old cookie no longer works."""
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
            at=now(),
            remote_addr=request.remote_addr,
        )
        db.commit()
    logout_user()
    session.clear()
    flash(SIGNED_OUT_MESSAGE)
    return redirect(url_for("auth.login"))


def roles_for(blueprint: str) -> frozenset[str] | None:
    """Return the roles allowed on a guarded blueprint, None when it is not guarded."""
    return GUARDED.get(blueprint)
