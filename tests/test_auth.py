"""Sign-in, sign-out, lock-out, rate limit, session rotation and lifetimes, the role guard, and their audit rows."""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Blueprint
from flask import Flask
from flask import request
from flask.testing import FlaskClient

from screening.auth import accounts as auth_accounts
from screening.auth import rate_limit
from screening.auth import roles as auth_roles
from screening.auth import sessions as auth_sessions
from screening.auth import views as auth_views
from screening import passwords
from screening.admin import service
from screening.auth.roles import guard_blueprint
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import User

from .accounts import DEFAULT_PASSWORD
from .accounts import Auth
from .accounts import Users
from .conftest import Clock

COOKIE = "screening_session"


def audit_rows(app: Flask, action: str | None = None) -> list[AuditEvent]:
    """Return the audit events, oldest first, optionally of one action."""
    with new_session(app) as session:
        query = sa.select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def assert_no_secrets(app: Flask, *secrets: str) -> None:
    """No audit row holds an email address, a typed password or any of ``secrets``."""
    for row in audit_rows(app):
        text = json.dumps([row.actor, row.action, row.subject_type, row.details])
        assert "@" not in text, text
        for secret in (DEFAULT_PASSWORD, *secrets):
            assert secret not in text, text


def login_redirect(response: object, next_page: str | None = None) -> None:
    """Assert ``response`` sends the browser to the sign-in page (with ``next_page``)."""
    assert response.status_code == 302, response.status_code  # type: ignore[attr-defined]
    location = urlsplit(response.headers["Location"])  # type: ignore[attr-defined]
    assert location.path == "/login"
    assert parse_qs(location.query).get("next") == ([next_page] if next_page else None)


# -- the sign-in page ---------------------------------------------------------------------------------


def test_sign_in_page_has_labelled_fields(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<label for="email">Email address</label>' in page
    assert '<label for="password">Password</label>' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert "Sign out" not in page


def test_sign_in_lands_on_role_home_and_is_audited(app: Flask, client: FlaskClient, auth: Auth, users: Users) -> None:
    admin = users.create("admin", email="Ada@Clinic.Test")
    response = auth.login("  ada@clinic.TEST ", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    assert users.get(admin.id).last_login_at is not None
    [event] = audit_rows(app, "auth.signed_in")
    assert (event.actor, event.subject_type, event.subject_id) == (f"user:{admin.id}", "user", admin.id)
    assert event.remote_addr == "127.0.0.1"
    assert_no_secrets(app)


def test_signed_in_user_sees_sign_out_on_every_page(client: FlaskClient, auth: Auth) -> None:
    user = auth.login_as("physician")
    for path in ("/", "/no-such-page"):
        page = client.get(path).get_data(as_text=True)
        assert f"Signed in as {user.email}" in page
        assert 'action="/logout"' in page and ">Sign out</button>" in page
    response = client.get("/login")
    assert response.status_code == 302  # already signed in: go on


#: Each role's links in the signed-in header: the clinic areas its role may open, in menu order.
AREA_LINKS = {
    "physician": [("/review/", "Review queue"), ("/rules/", "Rules")],
    "staff": [("/rules/", "Rules")],
    "admin": [("/rules/", "Rules"), ("/admin/users", "Admin")],
}


@pytest.mark.parametrize("role", sorted(AREA_LINKS))
def test_the_signed_in_header_links_the_areas_the_role_may_open(client: FlaskClient, auth: Auth, role: str) -> None:
    auth.login_as(role)
    page = client.get("/").get_data(as_text=True)
    nav = page.split('<nav class="clinic-areas" aria-label="Clinic areas">', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    assert links == AREA_LINKS[role]
    for path, _ in links:
        area = client.get(path)
        assert area.status_code == 200, (role, path, area.status_code)
        assert 'aria-current="page">' in area.get_data(as_text=True).split('aria-label="Clinic areas"', 1)[1]


def test_nobody_signed_in_sees_no_clinic_areas(client: FlaskClient) -> None:
    assert "Clinic areas" not in client.get("/").get_data(as_text=True)


def test_empty_form_is_refused_with_an_error_summary(client: FlaskClient, auth: Auth) -> None:
    response = client.post("/login", data={"csrf_token": auth.csrf_token()})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<title>Error: Sign in" in page
    assert 'href="#email"' in page and "Enter your email address." in page
    assert "Enter your password." in page
    assert "There are 2 problems with this form" in page  # a clinic page: not "your answers"


def test_sign_in_without_csrf_token_is_refused(client: FlaskClient, users: Users) -> None:
    user = users.create("admin")
    response = client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/users").status_code == 302


# -- failures look the same ---------------------------------------------------------------------------------


def test_unknown_email_wrong_password_locked_and_disabled_look_the_same(
    app: Flask, client: FlaskClient, auth: Auth, users: Users, clock: Clock
) -> None:
    known = users.create("staff", email="known@clinic.test")
    locked = users.create("staff", email="locked@clinic.test", locked_until=clock() + timedelta(minutes=5))
    disabled = users.create("staff", email="disabled@clinic.test", disabled=True)
    attempts = [
        ("nobody@clinic.test", DEFAULT_PASSWORD),
        (known.email, "wrong-password-entirely"),
        (locked.email, DEFAULT_PASSWORD),
        (disabled.email, DEFAULT_PASSWORD),
    ]
    pages = set()
    for email, password in attempts:
        response = auth.login(email, password)
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert auth_views.FAILED_MESSAGE in page
        assert password not in page
        pages.add(page.replace(email, "EMAIL").replace(auth.csrf_token(), "TOKEN"))
    assert len(pages) == 1  # byte for byte the same page, whatever the reason
    failed = audit_rows(app, "auth.sign_in_failed")
    assert [(e.subject_id, e.details["reason"]) for e in failed] == [
        (None, "unknown_email"),
        (known.id, "wrong_password"),
        (locked.id, "locked"),
        (disabled.id, "disabled"),
    ]
    assert all(e.actor == "anonymous" and e.remote_addr == "127.0.0.1" for e in failed)
    assert_no_secrets(app, "wrong-password-entirely")


def test_every_failure_spends_one_password_hash(
    monkeypatch: pytest.MonkeyPatch, auth: Auth, users: Users, clock: Clock
) -> None:
    calls: list[str] = []
    real = passwords.check_password_hash

    def counting(stored: str, password: str) -> bool:
        calls.append(stored.split("$", 1)[0])
        return real(stored, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    real_hash = passwords.hash_password(DEFAULT_PASSWORD)  # as the app stores one, not the fixtures' cheap one
    known = users.create("staff", password_hash=real_hash)
    locked = users.create("staff", password_hash=real_hash, locked_until=clock() + timedelta(minutes=5))
    for email, password in [
        ("nobody@clinic.test", "x" * 14),
        (known.email, "x" * 14),
        (locked.email, DEFAULT_PASSWORD),
    ]:
        calls.clear()
        auth.login(email, password)
        assert calls == ["scrypt:32768:8:1"], email


# -- lock-out ---------------------------------------------------------------------------------


def test_five_failures_lock_the_account_until_the_lock_time_passes(
    app: Flask, client: FlaskClient, auth: Auth, users: Users, clock: Clock
) -> None:
    user = users.create("admin")
    for _ in range(4):
        assert auth.login(user.email, "not-the-password").status_code == 422
    assert users.get(user.id).locked_until is None
    auth.login(user.email, "not-the-password")
    locked_until = users.get(user.id).locked_until
    assert locked_until == clock() + timedelta(minutes=15)
    [event] = audit_rows(app, "auth.locked")
    assert event.subject_id == user.id and event.details == {"failures": 5, "minutes": 15}

    response = auth.login(user.email, DEFAULT_PASSWORD)  # the right password does not help while locked
    assert response.status_code == 422 and auth_views.FAILED_MESSAGE in response.get_data(as_text=True)
    clock.advance(minutes=14, seconds=59)
    assert auth.login(user.email, DEFAULT_PASSWORD).status_code == 422
    assert users.get(user.id).locked_until == locked_until  # attempts while locked do not extend it

    clock.advance(seconds=2)
    assert auth.login(user.email, DEFAULT_PASSWORD).status_code == 302
    after = users.get(user.id)
    assert (after.failed_logins, after.locked_until) == (0, None)
    assert len(audit_rows(app, "auth.locked")) == 1


def test_a_success_resets_the_failure_count(auth: Auth, users: Users, clock: Clock) -> None:
    user = users.create("staff")
    for _ in range(4):
        auth.login(user.email, "not-the-password")
    assert users.get(user.id).failed_logins == 4
    assert auth.login(user.email, DEFAULT_PASSWORD).status_code == 302
    assert users.get(user.id).failed_logins == 0


def test_lock_settings_come_from_config(app: Flask, auth: Auth, users: Users, clock: Clock) -> None:
    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_LOCK_MINUTES=1)
    user = users.create("staff")
    auth.login(user.email, "not-the-password")
    auth.login(user.email, "not-the-password")
    assert users.get(user.id).locked_until == clock() + timedelta(minutes=1)


# -- rate limit ---------------------------------------------------------------------------------


def test_default_rate_limit_is_ten_attempts_a_minute(app: Flask) -> None:
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_too_many_attempts_from_one_address_get_the_429_page(app: Flask, client: FlaskClient, auth: Auth) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    token = auth.csrf_token()
    data = {"email": "someone@clinic.test", "password": "whatever-it-is", "csrf_token": token}
    assert [client.post("/login", data=data).status_code for _ in range(3)] == [422, 422, 422]
    response = client.post("/login", data=data)
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert len(audit_rows(app, "auth.sign_in_failed")) == 3  # the refused attempt never reached the check
    other = app.test_client()
    assert client.get("/login").status_code == 200  # only the sign-in POST is limited
    other_token = Auth(other, None).csrf_token()  # type: ignore[arg-type]
    elsewhere = other.post("/login", data={**data, "csrf_token": other_token}, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 422  # another address has its own allowance


def test_only_sign_in_attempts_reach_the_rate_limiter(
    app: Flask, client: FlaskClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = app.extensions[rate_limit.LIMITER_KEY]
    looked_up: list[str | None] = []
    resolve = limiter.limit_manager.resolve_limits

    def spy(*args: Any, **kwargs: Any) -> Any:
        looked_up.append(request.endpoint)
        return resolve(*args, **kwargs)

    monkeypatch.setattr(limiter.limit_manager, "resolve_limits", spy)
    assert client.get("/").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert looked_up == []  # a patient's page, the sign-in form and a 404 look up no limits
    token = auth.csrf_token()
    client.post("/login", data={"email": "someone@clinic.test", "password": "whatever-it-is", "csrf_token": token})
    assert looked_up == ["auth.login_submit"]


# -- sessions ---------------------------------------------------------------------------------


def test_sign_in_starts_a_new_session(app: Flask, client: FlaskClient, auth: Auth, users: Users) -> None:
    client.get("/login")
    with client.session_transaction() as before:
        before["draft_token"] = "left-over-from-the-intake"
    anonymous_cookie = client.get_cookie(COOKIE).value  # type: ignore[union-attr]
    user = users.create("admin")
    auth.login(user.email, DEFAULT_PASSWORD)
    signed_in_cookie = client.get_cookie(COOKIE).value  # type: ignore[union-attr]
    assert signed_in_cookie != anonymous_cookie
    with client.session_transaction() as after:
        assert "draft_token" not in after  # nothing carried over from before sign-in
        assert after["_user_id"] == f"{user.id}:1"
        first_nonce = after[auth_sessions.NONCE]

    stale = app.test_client()
    stale.set_cookie(COOKIE, anonymous_cookie)
    login_redirect(stale.get("/admin/users"), "/admin/users")

    auth.login(user.email, DEFAULT_PASSWORD)  # signing in again: another new session
    with client.session_transaction() as again:
        assert again[auth_sessions.NONCE] != first_nonce


def test_sign_out_ends_the_session_and_a_replayed_cookie(app: Flask, client: FlaskClient, auth: Auth) -> None:
    user = auth.login_as("admin")
    cookie = client.get_cookie(COOKIE).value  # type: ignore[union-attr]
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "You have signed out." in client.get("/login").get_data(as_text=True)
    login_redirect(client.get("/admin/users"), "/admin/users")
    replay = app.test_client()
    replay.set_cookie(COOKIE, cookie)
    login_redirect(replay.get("/admin/users"), "/admin/users")
    [event] = audit_rows(app, "auth.signed_out")
    assert (event.actor, event.subject_id, event.remote_addr) == (f"user:{user.id}", user.id, "127.0.0.1")
    assert_no_secrets(app)


def test_sign_out_needs_the_csrf_token(client: FlaskClient, auth: Auth) -> None:
    auth.login_as("admin")
    assert client.post("/logout").status_code == 400
    assert client.get("/admin/users").status_code == 200


def test_idle_session_ends(app: Flask, client: FlaskClient, auth: Auth, clock: Clock) -> None:
    user = auth.login_as("admin")
    clock.advance(minutes=14)
    assert client.get("/admin/users").status_code == 200
    clock.advance(minutes=14)  # activity moved the deadline
    assert client.get("/admin/users").status_code == 200
    clock.advance(minutes=15, seconds=1)
    login_redirect(client.get("/admin/users?page=2"), "/admin/users?page=2")
    assert auth_sessions.EXPIRED_MESSAGE in client.get("/login").get_data(as_text=True)
    login_redirect(client.get("/admin/users"), "/admin/users")
    [event] = audit_rows(app, "auth.session_expired")
    assert (event.subject_id, event.details) == (user.id, {"reason": "idle"})


def test_idle_timeout_comes_from_config(app: Flask, client: FlaskClient, auth: Auth, clock: Clock) -> None:
    app.config["SESSION_IDLE_MINUTES"] = 2
    auth.login_as("admin")
    clock.advance(minutes=2, seconds=1)
    login_redirect(client.get("/admin/users"), "/admin/users")


def test_session_ends_after_its_absolute_lifetime(app: Flask, client: FlaskClient, auth: Auth, clock: Clock) -> None:
    auth.login_as("admin")
    for _ in range(71):  # a request every 10 minutes for 11 h 50 min
        clock.advance(minutes=10)
        assert client.get("/admin/users").status_code == 200
    clock.advance(minutes=10, seconds=1)
    login_redirect(client.get("/admin/users"), "/admin/users")
    [event] = audit_rows(app, "auth.session_expired")
    assert event.details == {"reason": "lifetime"}


def test_expired_session_on_a_post_is_refused_without_next(client: FlaskClient, auth: Auth, clock: Clock) -> None:
    target = auth.login_as("admin")
    other = auth.users.create("staff")
    token = auth.csrf_token()
    clock.advance(hours=1)
    response = client.post(f"/admin/users/{other.id}/disable", data={"csrf_token": token})
    login_redirect(response)
    assert not auth.users.get(other.id).disabled
    assert auth.users.get(target.id).role == "admin"


@pytest.mark.parametrize("change", ["disable", "set_role"])
def test_disabling_or_changing_role_ends_sessions_at_once(
    app: Flask, client: FlaskClient, auth: Auth, change: str
) -> None:
    user = auth.login_as("admin")
    assert client.get("/admin/users").status_code == 200
    with new_session(app) as session:
        row = session.get(User, user.id)
        assert row is not None
        when = datetime.now(UTC)
        if change == "disable":
            service.disable_user(session, row, actor="cli", at=when)
        else:
            service.set_role(session, row, "staff", actor="cli", at=when)
        session.commit()
    login_redirect(client.get("/admin/users"), "/admin/users")
    assert auth_sessions.ENDED_MESSAGE in client.get("/login").get_data(as_text=True)
    if change == "set_role":  # signing in again gives the new role
        assert auth.login(user.email, DEFAULT_PASSWORD).status_code == 302
        assert client.get("/admin/users").status_code == 403


# -- where sign-in leads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_page", "lands_on"),
    [
        ("/admin/users?sort=email", "/admin/users?sort=email"),
        ("/", "/"),
        ("https://evil.test/admin", "/admin/users"),
        ("//evil.test/admin", "/admin/users"),
        ("/\\evil.test", "/admin/users"),
        ("javascript:alert(1)", "/admin/users"),
        ("admin/users", "/admin/users"),
        ("/login", "/admin/users"),
        ("/admin\r\nLocation: https://evil.test", "/admin/users"),
    ],
)
def test_next_page_is_followed_only_when_local(auth: Auth, users: Users, next_page: str, lands_on: str) -> None:
    user = users.create("admin")
    response = auth.login(user.email, DEFAULT_PASSWORD, next=next_page)
    assert response.status_code == 302
    assert response.headers["Location"] == lands_on


def test_next_from_the_guard_survives_the_sign_in_page(client: FlaskClient, auth: Auth, users: Users) -> None:
    response = client.get("/admin/users")
    login_redirect(response, "/admin/users")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/admin/users"' in page
    assert 'value="https://evil.test"' not in client.get("/login?next=https://evil.test").get_data(as_text=True)


def test_role_without_a_home_lands_on_the_start_page(auth: Auth, users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_roles, "HOMES", {})
    user = users.create("staff")
    assert auth.login(user.email, DEFAULT_PASSWORD).headers["Location"] == "/"


# -- the guard ---------------------------------------------------------------------------------


@pytest.fixture()
def probe(app: Flask) -> str:
    """Register a throwaway blueprint guarded for physicians; return its address."""
    bp = Blueprint("probe", __name__, url_prefix="/probe")
    guard_blueprint(bp, "physician")

    @bp.get("/")
    def index() -> str:
        return "probe page"

    @bp.post("/act")
    def act() -> str:
        return "acted"

    app.register_blueprint(bp)
    return "/probe/"


def test_guard_sends_anonymous_visitors_to_sign_in(client: FlaskClient, auth: Auth, probe: str) -> None:
    login_redirect(client.get(probe + "?tab=open"), "/probe/?tab=open")
    login_redirect(auth.post("/probe/act"))  # no next page for a POST
    assert client.post("/probe/act").status_code == 400  # the CSRF check comes first


@pytest.mark.parametrize(("role", "status"), [("physician", 200), ("staff", 403), ("admin", 403)])
def test_guard_lets_in_only_its_roles(client: FlaskClient, auth: Auth, probe: str, role: str, status: int) -> None:
    auth.login_as(role)
    response = client.get(probe)
    assert response.status_code == status
    if status == 403:
        assert "You do not have access to this page." in response.get_data(as_text=True)
    else:
        assert response.get_data(as_text=True) == "probe page"
    assert auth.post("/probe/act").status_code == status


def test_guard_remembers_the_roles_and_refuses_unknown_ones() -> None:
    assert auth_roles.roles_for("admin") == frozenset({"admin"})
    with pytest.raises(ValueError, match="roles"):
        guard_blueprint(Blueprint("typo", __name__), "physican")
    with pytest.raises(ValueError, match="roles"):
        guard_blueprint(Blueprint("none", __name__))


def test_current_user_exposes_id_role_and_actor(app: Flask, client: FlaskClient, auth: Auth) -> None:
    seen: list[tuple[object, ...]] = []

    @app.get("/whoami")
    def whoami() -> str:
        account = auth_accounts.current_user
        seen.append((account.id, account.role, account.actor, account.has_role("staff", "admin")))
        return "ok"

    client.get("/whoami")
    user = auth.login_as("staff")
    client.get("/whoami")
    assert seen == [(None, None, "anonymous", False), (user.id, "staff", f"user:{user.id}", True)]


# -- the password policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-Pw-1", "too short"),
        ("1qaz2wsx3edc", "commonly used"),
        ("qwertyuiop123", "commonly used"),
        ("password1234", "commonly used"),
        ("iloveyou1234", "too easy to guess"),
        ("abcabcabcabc", "too easy to guess"),
        ("ketamineclinic", "too easy to guess"),
        ("x" * 257, "too long"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, problem: str) -> None:
    message = passwords.policy_problem(password)
    assert message is not None and problem in message
    with pytest.raises(passwords.WeakPassword, match=problem):
        passwords.check_policy(password)


@pytest.mark.parametrize(
    ("password", "problem"),
    [("Margaret.Hamilton-1906", "contains your email"), ("hamiltonmargaret", "too easy to guess")],
)
def test_password_made_of_the_users_email_is_refused(password: str, problem: str) -> None:
    email = "margaret.hamilton@clinic.test"
    assert passwords.policy_problem("Margaret.Hamilton-1906") is None
    message = passwords.policy_problem(password, user_inputs=[email])
    assert message is not None and problem in message


@pytest.mark.parametrize(
    "password",
    ["Clinic2026!!", "Ketamine2026!!", "C1inic2026!!", "Cl1n1c-Ketam1ne-99", "Physician#2026!!", "Adm1n!Adm1n!2026"],
)
def test_the_clinics_own_words_with_digits_or_symbols_are_refused(password: str) -> None:
    message = passwords.policy_problem(password)
    assert message is not None and "words an attacker tries first" in message


def test_the_words_of_a_name_given_with_spaces_are_known() -> None:
    assert passwords.policy_problem("Harbor2026!!") is None  # not a word of its own, until it is the clinic's
    message = passwords.policy_problem("Harbor2026!!", user_inputs=["Harbor Ketamine Clinic"])
    assert message is not None and "words an attacker tries first" in message


def test_the_users_own_words_with_digits_are_refused() -> None:
    message = passwords.policy_problem("Hamilton#1906!Hamilton", user_inputs=["margaret.hamilton@clinic.test"])
    assert message is not None


@pytest.mark.parametrize(
    "password",
    [DEFAULT_PASSWORD, "correct horse battery staple", "Zebra-Crossing-1988-lamp", "clinic purple elephant umbrella"],
)
def test_strong_passwords_are_accepted(password: str) -> None:
    assert passwords.policy_problem(password) is None


def test_passwords_are_hashed_with_scrypt() -> None:
    stored = passwords.hash_password(DEFAULT_PASSWORD)
    assert stored.startswith("scrypt:") and DEFAULT_PASSWORD not in stored
    assert passwords.verify_password(stored, DEFAULT_PASSWORD)
    assert not passwords.verify_password(stored, DEFAULT_PASSWORD + "x")
    assert not passwords.verify_password(stored, "y" * 10_000)
