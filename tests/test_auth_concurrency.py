"""Lock-out under simultaneous sign-ins: the count and the lock hold when attempts race each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from screening import passwords
from screening.db import new_session
from screening.models import AuditEvent

from .accounts import DEFAULT_PASSWORD
from .accounts import Auth
from .accounts import Users

WRONG = "not-the-password"
#: Each password check takes this long, so the attempts overlap as they would under a real attack.
CHECK_SECONDS = 0.3


def failure_reasons(app: Flask) -> list[str]:
    """Return the reason of every failed sign-in recorded, oldest first."""
    with new_session(app) as session:
        events = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed").order_by(AuditEvent.id)
        )
        return [str((event.details or {}).get("reason")) for event in events]


def slow_checks(checked: list[str]) -> Callable[[str, str], bool]:
    """Return a password check that records each password it checks and takes a while (longer when right)."""
    real = passwords.verify_password

    def verify(stored_hash: str, password: str) -> bool:
        checked.append(password)
        time.sleep(CHECK_SECONDS * (2 if password == DEFAULT_PASSWORD else 1))
        return real(stored_hash, password)

    return verify


def test_simultaneous_sign_ins_cannot_beat_the_lock(app: Flask, users: Users, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # the per-address limit is not what is tested here
    user = users.create("physician")
    checked: list[str] = []
    monkeypatch.setattr(passwords, "verify_password", slow_checks(checked))
    statuses: dict[str, list[int]] = {"wrong": [], "right": []}

    def attempt(kind: str, password: str) -> None:
        statuses[kind].append(Auth(app.test_client(), users).login(user.email, password).status_code)

    wrong = [threading.Thread(target=attempt, args=("wrong", WRONG)) for _ in range(11)]
    for thread in wrong:
        thread.start()
    deadline = time.monotonic() + 10
    while len(checked) < 5 and time.monotonic() < deadline:  # the wrong guesses are being checked now
        time.sleep(0.01)
    right = threading.Thread(target=attempt, args=("right", DEFAULT_PASSWORD))
    right.start()
    for thread in [*wrong, right]:
        thread.join(timeout=60)

    assert statuses["wrong"] == [422] * 11
    assert statuses["right"] == [422]  # the right password arrived once the allowed guesses were used up
    assert checked.count(WRONG) <= 5  # no more passwords were checked than the lock allows
    assert DEFAULT_PASSWORD not in checked
    reasons = failure_reasons(app)
    assert reasons.count("wrong_password") == 5
    assert reasons.count("locked") == 7
    locked = users.get(user.id)
    assert locked.locked_until is not None  # and the lock set meanwhile was not cleared by the right password
    assert locked.last_login_at is None


def test_a_lock_set_while_the_right_password_is_checked_is_kept(
    app: Flask,
    users: Users,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    user = users.create("physician", failed_logins=3)
    checked: list[str] = []
    monkeypatch.setattr(passwords, "verify_password", slow_checks(checked))
    statuses: list[int] = []

    def attempt(password: str) -> None:
        statuses.append(Auth(app.test_client(), users).login(user.email, password).status_code)

    right = threading.Thread(target=attempt, args=(DEFAULT_PASSWORD,))
    right.start()  # takes the 4th attempt and is checked slowly
    while DEFAULT_PASSWORD not in checked:
        time.sleep(0.01)
    wrong = threading.Thread(target=attempt, args=(WRONG,))
    wrong.start()  # takes the 5th, fails first and locks the account
    for thread in (right, wrong):
        thread.join(timeout=60)

    assert sorted(statuses) == [422, 422]
    after = users.get(user.id)
    assert after.locked_until is not None
    assert after.last_login_at is None
    assert failure_reasons(app) == ["wrong_password", "locked"]
