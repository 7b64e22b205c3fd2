"""Clinic sign-in: the sign-in pages, accounts and sessions, and the role guard of the clinic blueprints.

Public API for the other blueprints::

    from screening.auth.accounts import current_user
    from screening.auth.roles import guard_blueprint

    bp = Blueprint("review", __name__, url_prefix="/review")
    guard_blueprint(bp, "physician", home="review.queue")

``roles`` guards the blueprints (``guard_blueprint``, ``require_roles``, ``ROLES``), ``accounts`` is who is
signed in (``current_user``, ``Account``, ``Anonymous``), ``sessions`` starts sessions and ends them when
idle or too old, ``rate_limit`` counts sign-in attempts per address, ``clock`` is the time these and the
clinic pages use (``clock.now()``; tests monkeypatch it), and ``views`` has the sign-in and sign-out pages
and ``init_app``, which sets all of it up.
"""
