"""The roles of clinic users, and the role guard every clinic blueprint installs once.

``guard_blueprint(bp, *roles, home=None)`` installs ONE ``before_request`` on ``bp``: an anonymous
visitor (or a user whose session ended) is redirected to ``/login?next=<this page>`` (GET/HEAD only),
a signed-in user whose role is not in ``roles`` gets the 403 page. Every route added to ``bp`` is
therefore protected by default. ``home`` names the endpoint a user of those roles lands on after
signing in without a ``next`` page (or maps some of the roles to their endpoint, leaving the others'
homes alone). Call it at import time, before the blueprint is registered.

``require_roles(*roles)`` narrows one view of a guarded blueprint to fewer roles: the others get the
same 403 page. The decorated view carries them as ``required_roles``, for the access matrix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from flask import Blueprint
from flask import abort
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

#: physician: reviews and decides; staff: tunes rules; admin: manages users and reads the audit log.
ROLES = ("physician", "staff", "admin")

#: Where each role lands after signing in, filled by guard_blueprint(..., home=...).
HOMES: dict[str, str] = {}
#: blueprint name -> the roles that may use it, for access-matrix tests and the header's areas.
GUARDED: dict[str, frozenset[str]] = {}
#: The clinic's areas in the signed-in header, in menu order: (blueprint, the endpoint it opens on, its label).
AREAS = (
    ("review", "review.queue", "Review queue"),
    ("tuning", "tuning.home", "Rules"),
    ("admin", "admin.users", "Admin"),
)


def areas_for(role: str) -> list[tuple[str, str, str]]:
    """Return (blueprint, endpoint, label) of each clinic area that ``role`` may open, in menu order."""
    return [area for area in AREAS if role in GUARDED.get(area[0], ())]


def guard_blueprint(bp: Blueprint, *roles: str, home: str | Mapping[str, str] | None = None) -> None:
    """Let only signed-in users with one of ``roles`` use ``bp``; see the module docstring."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"guard_blueprint needs roles from {ROLES}, got {roles!r}")
    allowed = frozenset(roles)

    def guard() -> Response | None:
        """Send anonymous visitors to sign in; refuse other roles."""
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=this_page()))
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
                return redirect(url_for("auth.login", next=this_page()))
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        guarded.required_roles = allowed  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def this_page() -> str | None:
    """Return the current page to come back to after signing in; only for GET and HEAD."""
    if request.method not in {"GET", "HEAD"}:
        return None
    return request.full_path.rstrip("?")


def roles_for(blueprint: str) -> frozenset[str] | None:
    """Return the roles allowed on a guarded blueprint, None when it is not guarded."""
    return GUARDED.get(blueprint)
