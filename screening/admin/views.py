"""The admin pages: the list of users, and disabling a user or changing their role."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from .. import auth
from ..auth import current_user
from ..db import get_session
from . import service

bp = Blueprint("admin", __name__, url_prefix="/admin")
auth.guard_blueprint(bp, "admin", home="admin.users")


def _refuse_own_account(user_id: int, what: str) -> None:
    """Stop an admin from locking themselves out; another admin (or the CLI) can do it."""
    if user_id == current_user.id:
        raise service.AccountError(f"You cannot {what} your own account. Ask another admin, or use the command line.")


@bp.get("/users")
def users() -> str:
    """List the users with their role, status and last sign-in."""
    return render_template(
        "admin/users.html", users=service.list_users(get_session()), roles=auth.ROLES, now=auth.now()
    )


@bp.post("/users/<int:user_id>/disable")
def disable(user_id: int) -> Response:
    """Disable a user; their sessions end at once."""
    _refuse_own_account(user_id, "disable")
    db = get_session()
    user = service.get_user(db, user_id)
    changed = service.disable_user(db, user, actor=current_user.actor, at=auth.now(), remote_addr=request.remote_addr)
    db.commit()
    flash(f"{user.email} is disabled and signed out." if changed else f"{user.email} was already disabled.")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> Response:
    """Give a user another role; their sessions end, so the new role applies from their next sign-in."""
    _refuse_own_account(user_id, "change the role of")
    db = get_session()
    user = service.get_user(db, user_id)
    role = request.form.get("role", "")
    changed = service.set_role(db, user, role, actor=current_user.actor, at=auth.now(), remote_addr=request.remote_addr)
    db.commit()
    flash(f"{user.email} is now {role}." if changed else f"{user.email} already had the role {role}.")
    return redirect(url_for("admin.users"))
