"""The admin pages: only admins see the users; disabling and changing roles end sessions and are audited."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.admin import service
from screening.db import new_session

from .accounts import Auth
from .accounts import Users
from .test_auth import assert_no_secrets
from .test_auth import audit_rows
from .test_auth import login_redirect

ROUTES = [
    ("GET", "/admin/users"),
    ("POST", "/admin/users/{id}/disable"),
    ("POST", "/admin/users/{id}/role"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(
    client: FlaskClient, auth: Auth, users: Users, method: str, path: str
) -> None:
    target = users.create("staff")
    url = path.format(id=target.id)
    if method == "GET":
        login_redirect(client.get(url), url)
    else:
        login_redirect(auth.post(url, {"role": "admin"}))
        assert users.get(target.id).role == "staff" and not users.get(target.id).disabled


@pytest.mark.parametrize("role", ["physician", "staff"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_other_roles_get_403(auth: Auth, users: Users, role: str, method: str, path: str) -> None:
    target = users.create("staff")
    auth.login_as(role)
    url = path.format(id=target.id)
    response = auth.client.get(url) if method == "GET" else auth.post(url, {"role": "admin"})
    assert response.status_code == 403
    assert users.get(target.id).role == "staff" and not users.get(target.id).disabled


def test_disabled_admin_is_treated_as_anonymous(auth: Auth, users: Users, app: Flask) -> None:
    admin = auth.login_as("admin")
    with new_session(app) as session:
        service.disable_user(session, service.get_user(session, admin.id), actor="cli", at=datetime.now(UTC))
        session.commit()
    login_redirect(auth.client.get("/admin/users"), "/admin/users")


def test_admin_sees_every_user(client: FlaskClient, auth: Auth, users: Users) -> None:
    users.create("physician", email="doc@clinic.test", last_login_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    users.create("staff", email="ops@clinic.test", disabled=True)
    users.create("staff", email="locked@clinic.test", locked_until=datetime.now(UTC) + timedelta(minutes=10))
    admin = auth.login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<caption id="users-caption">4 users</caption>' in page
    for email in ("doc@clinic.test", "ops@clinic.test", "locked@clinic.test", admin.email):
        assert f'<th scope="row">{email}</th>' in page
    assert "2026-03-04 05:06" in page and "Never" in page
    assert "Disabled" in page and "Locked until" in page
    assert "This is you." in page
    assert '<label for="role-' in page and "Change role" in page


def test_admin_disables_a_user_whose_session_ends_at_once(
    app: Flask, client: FlaskClient, auth: Auth, users: Users
) -> None:
    other_client = app.test_client()
    other = Auth(other_client, users)
    admin_of_other = other.login_as("admin")
    assert other_client.get("/admin/users").status_code == 200
    admin = auth.login_as("admin")

    response = auth.post(f"/admin/users/{admin_of_other.id}/disable")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    assert f"{admin_of_other.email} is disabled and signed out." in client.get("/admin/users").get_data(as_text=True)
    assert users.get(admin_of_other.id).disabled
    login_redirect(other_client.get("/admin/users"), "/admin/users")

    again = auth.post(f"/admin/users/{admin_of_other.id}/disable", follow_redirects=True)
    assert "was already disabled" in again.get_data(as_text=True)
    [event] = audit_rows(app, "user.disabled")
    assert (event.actor, event.subject_id, event.remote_addr) == (f"user:{admin.id}", admin_of_other.id, "127.0.0.1")
    assert_no_secrets(app)


def test_admin_changes_a_role(app: Flask, client: FlaskClient, auth: Auth, users: Users) -> None:
    target = users.create("staff", email="ops@clinic.test")
    admin = auth.login_as("admin")
    response = auth.post(f"/admin/users/{target.id}/role", {"role": "physician"}, follow_redirects=True)
    assert "ops@clinic.test is now physician." in response.get_data(as_text=True)
    after = users.get(target.id)
    assert after.role == "physician" and after.session_version == target.session_version + 1
    [event] = audit_rows(app, "user.role_changed")
    assert (event.actor, event.subject_id) == (f"user:{admin.id}", target.id)
    assert event.details == {"from": "staff", "to": "physician"}
    assert_no_secrets(app)


@pytest.mark.parametrize("role", ["root", "", "patient"])
def test_unknown_role_is_refused(app: Flask, auth: Auth, users: Users, role: str) -> None:
    target = users.create("staff")
    auth.login_as("admin")
    response = auth.post(f"/admin/users/{target.id}/role", {"role": role})
    assert response.status_code == 409
    assert "Role must be one of: physician, staff, admin." in response.get_data(as_text=True)
    assert users.get(target.id).role == "staff"
    assert audit_rows(app, "user.role_changed") == []


@pytest.mark.parametrize(("action", "data"), [("disable", {}), ("role", {"role": "staff"})])
def test_admin_cannot_lock_themselves_out(auth: Auth, users: Users, action: str, data: dict[str, str]) -> None:
    admin = auth.login_as("admin")
    response = auth.post(f"/admin/users/{admin.id}/{action}", data)
    assert response.status_code == 409
    assert "your own account" in response.get_data(as_text=True)
    after = users.get(admin.id)
    assert after.role == "admin" and not after.disabled


def test_unknown_user_is_404(auth: Auth) -> None:
    auth.login_as("admin")
    assert auth.post("/admin/users/999999/disable").status_code == 404


def test_actions_need_the_csrf_token(client: FlaskClient, auth: Auth, users: Users) -> None:
    target = users.create("staff")
    auth.login_as("admin")
    assert client.post(f"/admin/users/{target.id}/disable").status_code == 400
    assert not users.get(target.id).disabled
