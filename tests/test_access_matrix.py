"""Every route x every kind of visitor, with the answer each must get. Built from the app's URL map.

A route added later is in the matrix without editing this file; a route of a blueprint this file
does not know fails ``test_every_route_belongs_to_a_known_blueprint`` until someone decides who may
use it (and guards the blueprint with ``screening.auth.roles.guard_blueprint``).

Expected answers, derived from the route's blueprint:

- open blueprints (intake, status, auth): never refused, never sent to sign in, never a 5xx;
- guarded blueprints (review: physicians, admin: admins, tuning: staff, admins and physicians): anonymous
  visitors and patients are
  redirected to /login (with ``next`` for a GET), signed-in users of another role get 403, the
  right role gets 200 for a GET and a redirect (Post/Redirect/Get) for a POST;
- routes narrowed to fewer roles than their blueprint's (``screening.auth.roles.require_roles``, listed in
  ``NARROWED``: starting and resuming dry runs is for staff and admins, not physicians) answer the
  same, with their own roles;
- a POST that answers with a file (``DOWNLOADS``: the quality export) gets 200 and the file for the right role,
  sent with the fields it needs, instead of a redirect;
- a user disabled while signed in: the old session ends at its next request, so every page but
  the sign-in page sends the browser to /login; but a page whose address is a secret (a resume or status
  link, ``screening.security.TOKEN_ENDPOINTS``) goes on for an anonymous visitor instead, so the token never
  lands in the sign-in page's address.

The resume question (``/resume``, after a resume link) is checked apart for every persona: who is asked
first and who gets the form at once.

Every POST carries a valid CSRF token of the visitor's session, so the answer is the guard's, not the
CSRF check's. URL parameters are real: a submission, a status link, a resume link, a user, the active rule set
version and a rule draft made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.auth import roles as auth_roles
from screening import create_app
from screening.admin import service as accounts
from screening.answers import example_document
from screening.db import new_session
from screening.instruments.scoring import score_answers
from screening.patient.intake import service as intake
from screening.models import User
from screening.patient.status.service import issue_status_token
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.security import TOKEN_ENDPOINTS
from screening.tuning import dry_run_store
from screening.tuning import drafts

from .accounts import Auth
from .accounts import Users
from .patient import Patient
from .test_auth import login_redirect
from .test_review_service import add_submission

OPEN = frozenset({"anyone"})
#: Who may use each blueprint: OPEN, or the roles its guard lets in.
ACCESS: dict[str, frozenset[str]] = {
    "intake": OPEN,
    "status": OPEN,
    "auth": OPEN,
    "review": frozenset({"physician"}),
    "admin": frozenset({"admin"}),
    "tuning": frozenset({"staff", "admin", "physician"}),
}
#: Routes open to fewer roles than their blueprint, by endpoint: the roles ``require_roles`` lets in.
NARROWED: dict[str, frozenset[str]] = {
    "tuning.start_dry_run": frozenset({"staff", "admin"}),
    "tuning.resume_dry_run": frozenset({"staff", "admin"}),
}
#: POST routes that answer the right role with a file, not a redirect: the form fields they need, and the file's type.
DOWNLOADS: dict[str, tuple[dict[str, str], str]] = {
    "admin.export_quality": ({"from": "2020-01-01", "to": "2020-01-31"}, "text/csv"),
}
PERSONAS = ("anonymous", "patient", "physician", "staff", "admin", "disabled")
#: Methods every route answers by itself (Werkzeug adds them); not part of the matrix.
IMPLICIT = {"HEAD", "OPTIONS"}


def _routes() -> list[tuple[str, str, str]]:
    """Return (endpoint, method, rule) of every route of a freshly created app, but static files."""
    app = create_app({"TESTING": True, "SECRET_KEY": "collecting-routes", "DATABASE_URL": "sqlite://"})
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - IMPLICIT)
    )


ROUTES = _routes()


def blueprint_of(endpoint: str) -> str:
    """Return the blueprint of an endpoint ("" for a route registered on the app itself)."""
    return endpoint.rpartition(".")[0]


def test_every_route_belongs_to_a_known_blueprint() -> None:
    unknown = [(rule, endpoint) for endpoint, _, rule in ROUTES if blueprint_of(endpoint) not in ACCESS]
    assert not unknown, (
        f"routes of blueprints the access matrix does not know: {unknown}. Decide who may use them: "
        "guard the blueprint with screening.auth.roles.guard_blueprint and add it to ACCESS in this file."
    )
    assert len(ROUTES) >= 20 and {blueprint_of(endpoint) for endpoint, _, _ in ROUTES} == set(ACCESS)


def test_the_fhir_downloads_are_in_the_matrix() -> None:
    downloads = {(endpoint, method) for endpoint, method, rule in ROUTES if rule.endswith("/fhir")}
    assert downloads == {("review.fhir_bundle", "GET"), ("admin.submission_fhir", "GET")}


@pytest.mark.parametrize("blueprint", sorted(ACCESS))
def test_guards_match_the_matrix(blueprint: str) -> None:
    expected = None if ACCESS[blueprint] is OPEN else ACCESS[blueprint]
    assert auth_roles.roles_for(blueprint) == expected


def test_every_download_is_a_post_route() -> None:
    assert set(DOWNLOADS) <= {endpoint for endpoint, method, _ in ROUTES if method == "POST"}


def roles_of(endpoint: str) -> frozenset[str]:
    """Return who may use a route: its own narrowed roles, else its blueprint's."""
    return NARROWED.get(endpoint, ACCESS[blueprint_of(endpoint)])


def test_narrowed_routes_match_the_matrix() -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "collecting-routes", "DATABASE_URL": "sqlite://"})
    narrowed = {
        endpoint: view.required_roles
        for endpoint, view in app.view_functions.items()
        if getattr(view, "required_roles", None) is not None
    }
    assert narrowed == NARROWED
    for endpoint, roles in NARROWED.items():
        assert roles < ACCESS[blueprint_of(endpoint)], endpoint  # narrower than the blueprint's guard


# --- The world each case runs in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Real records for the URL parameters of the routes."""

    submission_id: int
    status_token: str
    resume_token: str
    user_id: int
    version_id: int
    draft_id: int
    run_id: int


def argument(world: World, endpoint: str, name: str) -> Any:
    """Return the value of URL parameter ``name`` of ``endpoint``; fail on a parameter nobody has given."""
    values: dict[tuple[str, str], Any] = {
        ("intake.step", "key"): "about",
        ("intake.step_submit", "key"): "about",
        ("intake.resume", "token"): world.resume_token,
        ("status.show", "token"): world.status_token,
        ("*", "submission_id"): world.submission_id,
        ("*", "user_id"): world.user_id,
        ("*", "version_id"): world.version_id,
        ("*", "draft_id"): world.draft_id,
        ("*", "run_id"): world.run_id,
        ("tuning.version", "name"): "candidates.yaml",
        ("tuning.edit_file", "name"): "candidates.yaml",
        ("tuning.save_file", "name"): "candidates.yaml",
        ("tuning.remove_file", "name"): "candidates.yaml",
    }
    for key in ((endpoint, name), ("*", name)):
        if key in values:
            return values[key]
    pytest.fail(f"{endpoint} takes the URL parameter {name!r}: give it a real value in argument()")


@pytest.fixture()
def world(app: Flask, users: Users) -> World:
    """Add a submission with a status link, a saved draft, a staff user, the active rule set and a rule draft."""
    now = datetime.now(UTC)
    version = require_ruleset(app).version
    target = users.create("staff")
    with new_session(app) as session:
        submission = add_submission(session, "candidate")
        # Real answers, so the pages that read them (the FHIR downloads) answer as they would in use.
        submission.answers = example_document()
        submission.scores = score_answers(submission.answers).as_dict()
        token = issue_status_token(submission)
        draft = intake.create_draft(session, {}, now=now, ttl_days=7)
        rule_draft = drafts.start_draft(session, title="Access matrix", user=session.get_one(User, target.id), now=now)
        stored = store.find_version(session, version)
        run = dry_run_store.start_backtest(
            session, candidate_sources=dict(stored.sources), against=stored, actor="system", now=now
        )
        session.commit()
        ids = (submission.id, token, draft.token, rule_draft.id)
        version_id, run_id = stored.id, run.id
    return World(
        submission_id=ids[0],
        status_token=ids[1],
        resume_token=ids[2],
        user_id=target.id,
        version_id=version_id,
        draft_id=ids[3],
        run_id=run_id,
    )


def path_of(app: Flask, world: World, endpoint: str, method: str, rule: str) -> str:
    """Return the address of a route with real values for its parameters."""
    (found,) = [candidate for candidate in app.url_map.iter_rules(endpoint) if candidate.rule == rule]
    values = {name: argument(world, endpoint, name) for name in sorted(found.arguments)}
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def become(persona: str, endpoint: str, app: Flask, client: FlaskClient, auth: Auth, users: Users) -> str:
    """Make ``client`` the persona's browser; return a CSRF token of its session."""
    if persona == "anonymous":
        return auth.csrf_token()
    if persona == "patient":
        patient = Patient(client)
        patient.answer_all(until="about")  # past the age step: a draft exists
        return patient.token()
    if persona != "disabled":
        auth.login_as(persona)
        return auth.csrf_token()
    # A user whose session was valid for this very route (or a physician), disabled afterwards.
    roles = roles_of(endpoint)
    user = auth.login_as(next(iter(roles)) if roles is not OPEN else "physician")
    token = auth.csrf_token()
    with new_session(app) as session:
        accounts.disable_user(session, accounts.get_user(session, user.id), actor="cli", at=datetime.now(UTC))
        session.commit()
    return token


def expected(endpoint: str, persona: str) -> str:
    """Return what a persona must get on the route ``endpoint``: allowed, login or forbidden."""
    blueprint = blueprint_of(endpoint)
    roles = roles_of(endpoint)
    if persona == "disabled":
        return "allowed" if blueprint == "auth" or endpoint in TOKEN_ENDPOINTS else "login"
    if roles is OPEN:
        return "allowed"
    if persona in ("anonymous", "patient"):
        return "login"
    return "allowed" if persona in roles else "forbidden"


def request(client: FlaskClient, endpoint: str, method: str, path: str, token: str) -> TestResponse:
    """Send the request; a POST carries the session's CSRF token and harmless form fields (a download's own)."""
    if method == "GET":
        return client.get(path)
    fields = DOWNLOADS.get(endpoint, ({}, ""))[0]
    data = {"csrf_token": token, "role": "staff", "note": "", "decision": "", **fields}
    return client.open(path, method=method, data=data)


def check(response: TestResponse, verdict: str, endpoint: str, method: str, path: str) -> None:
    """Assert the response is the verdict's."""
    blueprint = blueprint_of(endpoint)
    status = response.status_code
    if verdict == "login":
        login_redirect(response, path if method == "GET" else None)
    elif verdict == "forbidden":
        assert status == 403, status
        assert "You do not have access to this page." in response.get_data(as_text=True)
    elif ACCESS[blueprint] is not OPEN:  # the right role on a guarded page
        if method == "GET":
            assert status == 200, status
        elif endpoint in DOWNLOADS:
            assert status == 200 and response.mimetype == DOWNLOADS[endpoint][1], status
        elif status == 422:  # the form was read and refused, shown again beside its fields: access was given
            assert "You do not have access to this page." not in response.get_data(as_text=True)
        else:
            assert status == 302 and not response.headers["Location"].startswith("/login"), status
    else:  # an open page: whatever it answers, it is not refused, not a sign-in, not a failure
        assert status < 500 and status not in (401, 403), status
        if blueprint != "auth" and status in (301, 302, 303, 307, 308):
            assert not response.headers["Location"].startswith("/login"), response.headers["Location"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("endpoint", "method", "rule"), ROUTES, ids=[f"{m} {r}" for _, m, r in ROUTES])
def test_access(
    app: Flask,
    client: FlaskClient,
    auth: Auth,
    users: Users,
    world: World,
    endpoint: str,
    method: str,
    rule: str,
    persona: str,
) -> None:
    blueprint = blueprint_of(endpoint)
    if blueprint not in ACCESS:
        pytest.fail(f"{rule} belongs to the unknown blueprint {blueprint!r}: add it to ACCESS")
    token = become(persona, endpoint, app, client, auth, users)
    path = path_of(app, world, endpoint, method, rule)
    response = request(client, endpoint, method, path, token)
    check(response, expected(endpoint, persona), endpoint, method, path)


#: What /resume answers after a resume link, per persona: the question page, or the form at once.
RESUME_QUESTION = {
    "anonymous": "opens",
    "patient": "asks",  # holds a form of their own
    "physician": "asks",
    "staff": "asks",
    "admin": "asks",
    "disabled": "opens",  # the session ended: nothing is held any more
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_resume_question(
    app: Flask, client: FlaskClient, auth: Auth, users: Users, world: World, persona: str
) -> None:
    token = become(persona, "intake.resume", app, client, auth, users)
    kept = client.get(f"/resume/{world.resume_token}")
    assert kept.status_code == 302 and kept.headers["Location"] == "/resume", kept.status_code
    assert world.resume_token not in kept.headers["Location"]
    response = client.get("/resume")
    if RESUME_QUESTION[persona] == "opens":
        assert response.status_code == 302 and response.headers["Location"] == "/"  # the world's form is empty
        return
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "open this form anyway?" in html.lower()
    assert ("You are signed in as" in html) is (persona not in ("anonymous", "patient"))
    assert world.resume_token not in html
    cancelled = client.post("/resume", data={"csrf_token": token, "action": "cancel"})
    assert cancelled.status_code == 302 and cancelled.headers["Location"] == "/"
    if persona in auth_roles.ROLES:  # still signed in: the sign-in page sends them on to their home
        assert client.get("/login").status_code == 302
