"""The sign-in and sign-out pages, and ``init_app``, which sets up the accounts, sessions and sign-in limit.

Signing in checks the credentials (``passwords.sign_in``, with the lock-out policy of the settings) under
the per-address limit, starts a new session and goes on to a safe ``next`` page or the role's home.
Signing out bumps the user's session version, which ends their other sessions too.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import EmailField
from wtforms import Form
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import InputRequired
from wtforms.validators import Length

from .. import passwords
from ..db import get_session
from . import clock
from . import rate_limit
from . import roles
from .accounts import login_manager
from .accounts import signed_in_account
from .sessions import SIGN_IN_BLUEPRINT
from .sessions import enforce_session_lifetime
from .sessions import sign_out
from .sessions import start_session

FAILED_MESSAGE = "Email or password is not correct, or the account is temporarily locked."
SIGNED_OUT_MESSAGE = "You have signed out."
#: The reason ``sign_out`` records for the sign-out button.
SIGN_OUT_BUTTON = "sign_out_button"

bp = Blueprint(SIGN_IN_BLUEPRINT, __name__)


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
    rate_limit.init_app(app)
    app.before_request(enforce_session_lifetime)
    app.add_template_global(signed_in_account)
    app.add_template_global(roles.areas_for, "clinic_areas")
    app.register_blueprint(bp)


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
    endpoint = roles.HOMES.get(role or "")
    if endpoint is not None and endpoint in current_app.view_functions:
        return url_for(endpoint)
    return url_for("intake.welcome")


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
    with rate_limit.sign_in_limit():
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
            now=clock.now(),
            policy=policy,
            remote_addr=request.remote_addr,
        )
        db.commit()
        if user is None:
            return _render_login(form, failed=True, status=422)
        start_session(user)
        return redirect(landing_page(form.next.data, user.role))


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and end the user's other sessions; a replayed old cookie no longer works."""
    sign_out(reason=SIGN_OUT_BUTTON)
    flash(SIGNED_OUT_MESSAGE)
    return redirect(url_for("auth.login"))
