"""Who is signed in: the clinic user's ``Account``, or ``Anonymous``, as Flask-Login loads them.

``current_user`` (Flask-Login's proxy) is an ``Account`` when signed in: ``.id``, ``.email``, ``.role``
(one of ``roles.ROLES``), ``.actor`` (``"user:<id>"``, for ``audit.record``), ``.user`` (the ``User`` row,
attached to this request's ``db.get_session()``) and ``.has_role(*roles)``. When nobody is signed in
it is an ``Anonymous`` with ``is_authenticated`` False, ``.id``/``.role`` None and ``.actor``
``"anonymous"``. In templates, ``signed_in_account()`` returns the Account or None.

The Flask-Login user id is ``"<id>:<session_version>"``, so bumping ``User.session_version`` (disable,
role change, sign-out) ends every session of that user at its next request; disabled users never load.
"""

from __future__ import annotations

from flask_login import AnonymousUserMixin
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .. import passwords
from ..db import get_session
from ..models import User

__all__ = ["Account", "Anonymous", "current_user", "load_account", "login_manager", "signed_in_account"]

login_manager = LoginManager()


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
