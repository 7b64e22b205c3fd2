"""Fixtures for clinic accounts: ``users`` (a factory) and ``auth`` (sign the test client in and out).

Usage::

    def test_queue(auth, client):
        physician = auth.login_as("physician")      # a fresh physician, signed in through /login
        assert client.get("/review/").status_code == 200
        auth.post("/review/1/claim", {"note": "..."})  # adds this session's CSRF token
        auth.logout()

    def test_list(users):
        admin = users.create("admin", email="boss@clinic.test")  # password: users.password_of(admin)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from screening.db import new_session
from screening.models import User

#: Meets the policy (length, not common, zxcvbn score 4).
DEFAULT_PASSWORD = "plum-Sextant-42-ferry"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HASHES: dict[str, str] = {}
_numbers = itertools.count(1)


#: The accounts made here are hashed with scrypt at a low work factor, so that signing in (hundreds of times a
#: session) costs a millisecond rather than a tenth of a second. The app's own hashing, at its own cost, is tested
#: in tests/test_auth.py and used by every account the app makes (``users create``, a password change).
FIXTURE_HASH_METHOD = "scrypt:1024:8:1"


def hashed(password: str) -> str:
    """Return a cheap scrypt hash of ``password``, made once per test session."""
    if password not in _HASHES:
        _HASHES[password] = generate_password_hash(password, method=FIXTURE_HASH_METHOD)
    return _HASHES[password]


class Users:
    """Create users straight in the database, each with a known password."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.passwords: dict[int, str] = {}

    def create(
        self, role: str = "physician", email: str | None = None, password: str | None = None, **fields: Any
    ) -> User:
        """Add a user of ``role``; ``fields`` set other columns (disabled, locked_until, ...)."""
        password = password or DEFAULT_PASSWORD
        with new_session(self.app) as session:
            user = User(
                email=(email or f"{role}{next(_numbers)}@clinic.test").lower(),
                password_hash=hashed(password),
                role=role,
                disabled=False,
                created_at=datetime.now(UTC),
                session_version=1,
                failed_logins=0,
            )
            for name, value in fields.items():
                setattr(user, name, value)
            session.add(user)
            session.commit()
        self.passwords[user.id] = password
        return user

    def password_of(self, user: User) -> str:
        """Return the password ``user`` was created with."""
        return self.passwords[user.id]

    def get(self, user_id: int) -> User:
        """Return the user as the database holds it now."""
        with new_session(self.app) as session:
            user = session.get(User, user_id)
            assert user is not None
            return user


class Auth:
    """Sign one test client in and out through the real pages."""

    def __init__(self, client: FlaskClient, users: Users) -> None:
        self.client = client
        self.users = users
        self.user: User | None = None
        self._token: str | None = None

    def csrf_token(self) -> str:
        """Return this session's CSRF token, read from a page (the sign-out form carries it too)."""
        if self._token is None:
            page = self.client.get("/login", follow_redirects=True).get_data(as_text=True)
            found = CSRF.search(page)
            assert found is not None, "no CSRF token on the page"
            self._token = found.group(1)
        return self._token

    def login(self, email: str, password: str, *, next: str | None = None) -> TestResponse:
        """Post the sign-in form; return the response (a redirect when it worked)."""
        data = {"email": email, "password": password, "csrf_token": self.csrf_token()}
        if next is not None:
            data["next"] = next
        response = self.client.post("/login", data=data)
        self._token = None  # signing in starts a new session with a new token
        return response

    def login_as(self, role: str, **fields: Any) -> User:
        """Create a fresh user of ``role``, sign the client in as them and return the user."""
        user = self.users.create(role, **fields)
        response = self.login(user.email, self.users.password_of(user))
        assert response.status_code == 302, response.get_data(as_text=True)
        self.user = user
        return user

    def post(self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """POST ``data`` to ``path`` with this session's CSRF token."""
        return self.client.post(path, data={**(data or {}), "csrf_token": self.csrf_token()}, **kwargs)

    def logout(self) -> TestResponse:
        """Press the sign-out button."""
        response = self.post("/logout")
        self.user = None
        self._token = None
        return response


@pytest.fixture()
def users(app: Flask) -> Users:
    """Return the user factory for the app under test."""
    return Users(app)


@pytest.fixture()
def auth(client: FlaskClient, users: Users) -> Auth:
    """Return the helper that signs the test client in as a user of some role."""
    return Auth(client, users)
