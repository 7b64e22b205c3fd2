"""Account services shared by the admin pages and the ``users`` CLI: create, list, disable, change role.

Each change writes its audit event into the caller's session; the caller commits both together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from .. import passwords
from ..auth.roles import ROLES
from ..errors import ScreeningError
from ..models import User

#: Enough to catch typos; the clinic's mail server is the real check.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ScreeningError):
    """A user-management request cannot be carried out; the message says why."""

    http_status = 409
    title = "This change cannot be made"


class UnknownUser(AccountError):
    """No user matches."""

    http_status = 404
    title = "There is no such user"


def _check_role(role: str) -> None:
    """Refuse a role that does not exist."""
    if role not in ROLES:
        raise AccountError(f"Role must be one of: {', '.join(ROLES)}.")


def list_users(session: orm.Session) -> list[User]:
    """Return every user, by email."""
    return list(session.scalars(sa.select(User).order_by(User.email)))


def find_user(session: orm.Session, email: str) -> User:
    """Return the user with ``email`` (any case); raise UnknownUser."""
    user = session.scalar(sa.select(User).where(User.email == passwords.normalize_email(email)))
    if user is None:
        raise UnknownUser(f"No user has the email {email!r}.")
    return user


def get_user(session: orm.Session, user_id: int) -> User:
    """Return the user with ``user_id``; raise UnknownUser."""
    user = session.get(User, user_id)
    if user is None:
        raise UnknownUser("There is no user with this number.")
    return user


def check_new_email(session: orm.Session, email: str) -> str:
    """Return the normalized email when it is well-formed and not taken; raise AccountError."""
    normalized = passwords.normalize_email(email)
    if len(normalized) > 254 or not EMAIL_PATTERN.match(normalized):
        raise AccountError(f"{email!r} is not an email address.")
    if session.scalar(sa.select(User.id).where(User.email == normalized)) is not None:
        raise AccountError(f"A user with the email {normalized!r} already exists.")
    return normalized


def create_user(
    session: orm.Session,
    *,
    email: str,
    role: str,
    password: str,
    actor: str,
    at: datetime,
    remote_addr: str | None = None,
    site_words: Iterable[str] = (),
) -> User:
    """Add a user with a password that meets the policy; raise AccountError or WeakPassword.

    ``site_words`` (the clinic's name) are refused in a password as the user's own email is.
    """
    _check_role(role)
    normalized = check_new_email(session, email)
    passwords.check_policy(password, user_inputs=[normalized, *site_words])
    user = User(
        email=normalized,
        password_hash=passwords.hash_password(password),
        role=role,
        disabled=False,
        created_at=at,
        session_version=1,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    _audit(session, user, "user.created", actor, at, remote_addr, {"role": role})
    return user


def disable_user(session: orm.Session, user: User, *, actor: str, at: datetime, remote_addr: str | None = None) -> bool:
    """Disable ``user`` and end their sessions; return False when they were disabled already."""
    if user.disabled:
        return False
    user.disabled = True
    user.session_version += 1
    _audit(session, user, "user.disabled", actor, at, remote_addr, {})
    return True


def set_role(
    session: orm.Session, user: User, role: str, *, actor: str, at: datetime, remote_addr: str | None = None
) -> bool:
    """Give ``user`` a new role and end their sessions; return False when they had it already."""
    _check_role(role)
    if user.role == role:
        return False
    previous = user.role
    user.role = role
    user.session_version += 1
    _audit(session, user, "user.role_changed", actor, at, remote_addr, {"from": previous, "to": role})
    return True


def _audit(
    session: orm.Session,
    user: User,
    action: str,
    actor: str,
    at: datetime,
    remote_addr: str | None,
    details: dict[str, audit.DetailValue],
) -> None:
    """Record a change to ``user``: ids and roles only, never the email or password."""
    audit.record(
        session,
        actor=actor,
        action=action,
        subject_type="user",
        subject_id=user.id,
        at=at,
        remote_addr=remote_addr,
        details=details,
    )
