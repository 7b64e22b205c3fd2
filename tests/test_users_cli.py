"""The ``users`` commands: create (password prompted twice, never echoed, policy enforced), list, disable, set-role."""

from __future__ import annotations

import pytest
from click.testing import Result
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import new_session
from screening.models import User

from .accounts import DEFAULT_PASSWORD
from .accounts import Auth
from .accounts import Users
from .test_auth import assert_no_secrets
from .test_auth import audit_rows


def stored_user(app: Flask, email: str) -> User | None:
    """Return the user with ``email`` as stored, or None."""
    with new_session(app) as session:
        return session.scalar(sa.select(User).where(User.email == email))


def create(runner: FlaskCliRunner, email: str, role: str, password: str, confirm: str | None = None) -> Result:
    """Run ``users create`` typing the password and its confirmation."""
    typed = f"{password}\n{password if confirm is None else confirm}\n"
    return runner.invoke(args=["users", "create", email, "--role", role], input=typed)


def test_create_prompts_twice_hides_the_password_and_audits(app: Flask, runner: FlaskCliRunner) -> None:
    result = create(runner, "New.Doctor@Clinic.Test", "physician", DEFAULT_PASSWORD)
    assert result.exit_code == 0, result.output
    assert DEFAULT_PASSWORD not in result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert "Created new.doctor@clinic.test (physician)." in result.output
    user = stored_user(app, "new.doctor@clinic.test")
    assert user is not None and user.role == "physician" and not user.disabled
    assert user.password_hash.startswith("scrypt:") and DEFAULT_PASSWORD not in user.password_hash
    [event] = audit_rows(app, "user.created")
    assert (event.actor, event.subject_type, event.subject_id) == ("cli", "user", user.id)
    assert event.details == {"role": "physician"}
    assert_no_secrets(app)


def test_created_user_can_sign_in(runner: FlaskCliRunner, auth: Auth) -> None:
    assert create(runner, "admin@clinic.test", "admin", DEFAULT_PASSWORD).exit_code == 0
    assert auth.login("admin@clinic.test", DEFAULT_PASSWORD).headers["Location"] == "/admin/users"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1", "too short: use at least 12 characters"),
        ("1qaz2wsx3edc", "on the list of commonly used passwords"),
        ("iloveyou1234", "too easy to guess"),
        ("margaret.hamilton", "contains your email address"),
    ],
)
def test_create_refuses_a_weak_password_and_says_why(
    app: Flask, runner: FlaskCliRunner, password: str, message: str
) -> None:
    result = create(runner, "margaret.hamilton@clinic.test", "staff", password)
    assert result.exit_code == 1
    assert message in result.output
    assert password not in result.output
    assert stored_user(app, "margaret.hamilton@clinic.test") is None
    assert audit_rows(app) == []


@pytest.mark.parametrize("password", ["Harbor2026!!", "H4rb0r#2026!"])
def test_create_refuses_the_clinics_own_name_with_digits_or_symbols(
    app: Flask, runner: FlaskCliRunner, password: str
) -> None:
    assert app.config["CLINIC_NAME"] == "Harbor Ketamine Clinic"
    result = create(runner, "new.staff@clinic.test", "staff", password)
    assert result.exit_code == 1, result.output
    assert "words an attacker tries first" in result.output
    assert stored_user(app, "new.staff@clinic.test") is None


def test_create_stops_when_the_confirmation_differs(app: Flask, runner: FlaskCliRunner) -> None:
    result = create(runner, "x@clinic.test", "staff", DEFAULT_PASSWORD, confirm=DEFAULT_PASSWORD + "!")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert DEFAULT_PASSWORD not in result.output
    assert stored_user(app, "x@clinic.test") is None


@pytest.mark.parametrize(
    ("email", "message"), [("not-an-email", "is not an email address"), ("taken@clinic.test", "already exists")]
)
def test_create_checks_the_email_before_asking_for_a_password(
    runner: FlaskCliRunner, users: Users, email: str, message: str
) -> None:
    users.create("staff", email="taken@clinic.test")
    result = runner.invoke(args=["users", "create", email.upper(), "--role", "staff"], input="")
    assert result.exit_code == 1
    assert message in result.output and "Password" not in result.output


def test_create_refuses_an_unknown_role(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["users", "create", "a@clinic.test", "--role", "patient"], input="")
    assert result.exit_code == 2
    assert "'physician', 'staff', 'admin'" in result.output


def test_list_shows_every_user(runner: FlaskCliRunner, users: Users) -> None:
    assert "No users yet" in runner.invoke(args=["users", "list"]).output
    users.create("physician", email="doc@clinic.test")
    users.create("staff", email="ops@clinic.test", disabled=True)
    lines = runner.invoke(args=["users", "list"]).output.splitlines()
    assert lines[0].split() == ["EMAIL", "ROLE", "STATUS", "LAST", "SIGN-IN", "(UTC)"]
    assert lines[1].split() == ["doc@clinic.test", "physician", "active", "never"]
    assert lines[2].split() == ["ops@clinic.test", "staff", "disabled", "never"]


def test_disable_ends_sessions_and_audits_once(app: Flask, runner: FlaskCliRunner, users: Users) -> None:
    user = users.create("physician", email="doc@clinic.test")
    result = runner.invoke(args=["users", "disable", "DOC@clinic.test"])
    assert result.exit_code == 0 and "Disabled doc@clinic.test" in result.output
    after = users.get(user.id)
    assert after.disabled and after.session_version == user.session_version + 1
    again = runner.invoke(args=["users", "disable", "doc@clinic.test"])
    assert again.exit_code == 0 and "already disabled" in again.output
    [event] = audit_rows(app, "user.disabled")
    assert (event.actor, event.subject_id, event.details, event.remote_addr) == ("cli", user.id, {}, None)
    assert_no_secrets(app)


def test_set_role_ends_sessions_and_audits(app: Flask, runner: FlaskCliRunner, users: Users) -> None:
    user = users.create("staff", email="ops@clinic.test")
    result = runner.invoke(args=["users", "set-role", "ops@clinic.test", "physician"])
    assert result.exit_code == 0 and "ops@clinic.test is now physician." in result.output
    after = users.get(user.id)
    assert after.role == "physician" and after.session_version == user.session_version + 1
    same = runner.invoke(args=["users", "set-role", "ops@clinic.test", "physician"])
    assert "already has the role physician" in same.output
    [event] = audit_rows(app, "user.role_changed")
    assert (event.actor, event.subject_id, event.details) == ("cli", user.id, {"from": "staff", "to": "physician"})
    assert_no_secrets(app)


@pytest.mark.parametrize("command", [["disable", "ghost@clinic.test"], ["set-role", "ghost@clinic.test", "staff"]])
def test_unknown_email_is_a_clear_error(app: Flask, runner: FlaskCliRunner, command: list[str]) -> None:
    result = runner.invoke(args=["users", *command])
    assert result.exit_code == 1
    assert "No user has the email 'ghost@clinic.test'." in result.output
    assert audit_rows(app) == []


def test_set_role_refuses_an_unknown_role(runner: FlaskCliRunner, users: Users) -> None:
    user = users.create("staff", email="ops@clinic.test")
    result = runner.invoke(args=["users", "set-role", "ops@clinic.test", "root"])
    assert result.exit_code == 2
    assert users.get(user.id).role == "staff"
