"""When the database fails: workers still start, requests fail fast with the app's own page, crisis resources stay.

Each PostgreSQL test runs against a server of its own (tests/pg_server.py), which it stops, hangs and
restarts; the suite's shared server is never touched.
"""

from __future__ import annotations

import http.client
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Callable
from typing import Iterator
from typing import TypeVar
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse
from werkzeug.wrappers import Response

from screening import migrate
from screening.db import engine_for
from screening.db import get_session
from screening.active_rules import require_ruleset_unless_unreachable
from screening.active_rules.registry import RulesUnavailable

from .conftest import CLINIC_ENV
from .conftest import PRODUCTION_SECRET
from .conftest import make_app
from .patient import CSRF
from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Patient
from .patient import step_path
from .pg_server import Server
from .pg_server import free_port
from .pg_server import hung_listener
from .pg_server import pg_bin

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
#: Far below what a hung request took before (gunicorn's 30 s timeout, or forever); never a timing assertion.
WELL_BEFORE_GUNICORN_TIMEOUT = 25.0
#: What the page shown for an unavailable database says, and its crisis resources.
CALM = "please try again in a few minutes"
CRISIS_SHORT = "If you are thinking about harming yourself, call or text"
CRISIS_NOW = "Please reach out for support now"
UNSAVED = "the answers on this page could not be saved"
FAST = {"DATABASE_CONNECT_TIMEOUT": 2, "DATABASE_STATEMENT_TIMEOUT": 1, "RULES_CHECK_SECONDS": 0}

needs_postgres = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """Return a migrated PostgreSQL server of this module's own."""
    server = Server(Path(tempfile.mkdtemp(prefix="screening-pgfail-")), free_port())
    server.create()
    migrate.upgrade(server.url)
    yield server
    server.destroy()


@pytest.fixture()
def pg(server: Server) -> Iterator[Server]:
    """Return the server running, and running again after the test, whatever the test did to it."""
    yield server
    if not server.running:
        server.start()


@pytest.fixture()
def new_app() -> Iterator[Callable[..., Flask]]:
    """Return a factory of test apps whose connections are closed after the test."""
    made: list[Flask] = []

    def factory(url: str, **config: object) -> Flask:
        made.append(make_app(url, **{**FAST, **config}))
        return made[-1]

    yield factory
    for app in made:
        engine_for(app).dispose()


def within(seconds: float, call: Callable[[], T]) -> T:
    """Return what ``call`` returns; fail (instead of hanging the suite) if it has not returned after ``seconds``."""
    result: list[T] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"no answer within {seconds} s"
    return result[0]


def assert_unavailable_page(response: TestResponse) -> str:
    """Check the page shown while the database is unavailable and return its text."""
    text = response.get_data(as_text=True)
    assert response.status_code == 503, text
    assert response.headers["Retry-After"].isdigit()
    assert CALM in text
    assert 'href="tel:988"' in text
    return text


def test_the_app_starts_without_the_database_and_serves_what_needs_none(new_app: Callable[..., Flask]) -> None:
    app = new_app(f"postgresql+psycopg://app@127.0.0.1:{free_port()}/app")
    assert require_ruleset_unless_unreachable(app) is None
    patient = Patient(app.test_client())
    first = patient.get("/")
    assert first.status_code == 200
    assert "Step 1 of" in first.get_data(as_text=True)
    for page in ("/intake/support", "/adults-only"):
        response = patient.client.get(page)
        assert response.status_code == 200
        assert 'href="tel:988"' in response.get_data(as_text=True)
    assert patient.answer("welcome").status_code == 302  # consent is kept in the session
    text = assert_unavailable_page(patient.answer("age"))  # the draft needs the database
    assert text.index(CRISIS_SHORT) < text.index('class="site-footer"')  # shown in the page, not only the footer


def test_invalid_rule_files_with_a_reachable_database_still_refuse_to_start(
    new_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from .ruleset_files import copy_rules
    from .ruleset_files import edit

    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    with pytest.raises(RulesUnavailable, match="unknown fact 'phq9x'"):
        require_ruleset_unless_unreachable(new_app(url, RULES_DIR=str(rules)))


def test_a_database_that_never_answers_gives_the_unavailable_page_within_seconds(new_app: Callable[..., Flask]) -> None:
    port = free_port()
    with hung_listener(port):
        app = new_app(f"postgresql+psycopg://app@127.0.0.1:{port}/app")
        response = within(WELL_BEFORE_GUNICORN_TIMEOUT, lambda: app.test_client().get("/resume/some-saved-form"))
    assert_unavailable_page(response)


@needs_postgres
def test_a_statement_stuck_on_a_lock_is_cancelled_with_the_unavailable_page(
    new_app: Callable[..., Flask], pg: Server
) -> None:
    app = new_app(pg.url)
    locker = sa.create_engine(pg.url)
    try:
        with locker.connect() as connection:
            connection.execute(sa.text("LOCK TABLE draft IN ACCESS EXCLUSIVE MODE"))  # held until rollback
            response = within(WELL_BEFORE_GUNICORN_TIMEOUT, lambda: app.test_client().get("/resume/some-saved-form"))
            connection.rollback()
    finally:
        locker.dispose()
    assert_unavailable_page(response)


def test_sqlite_waits_for_a_lock_only_as_long_as_the_statement_timeout(
    new_app: Callable[..., Flask], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'locked.sqlite3'}"
    migrate.upgrade(url)
    app = new_app(url)
    patient = Patient(app.test_client())
    patient.answer("welcome")
    writer = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        response = within(WELL_BEFORE_GUNICORN_TIMEOUT, lambda: patient.answer("age"))
    finally:
        writer.close()
    assert_unavailable_page(response)
    assert patient.answer("age").status_code == 302  # the lock is gone: the same answers are kept


def _patient_on(app: Flask) -> Patient:
    """Return a patient with a saved form on ``app``, the consent and age steps done."""
    patient = Patient(app.test_client())
    patient.answer_all(until="about")
    return patient


def _terminate_own_backend(app: Flask, admin: sa.Engine) -> None:
    """End the server session of this request's database connection, from a second connection."""
    pid = get_session().scalar(sa.text("SELECT pg_backend_pid()"))
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


@needs_postgres
def test_a_connection_dropped_mid_request_gives_the_error_page_not_a_bare_500(
    new_app: Callable[..., Flask], pg: Server
) -> None:
    app = new_app(pg.url)
    admin = sa.create_engine(pg.url)
    drop: dict[str, bool] = {"before_view": False, "after_view": False}

    @app.before_request
    def drop_before_view() -> None:
        if drop["before_view"]:
            _terminate_own_backend(app, admin)

    @app.after_request
    def drop_after_view(response: Response) -> Response:
        if drop["after_view"]:
            _terminate_own_backend(app, admin)
        return response

    patient = _patient_on(app)
    try:
        drop["before_view"] = True
        assert_unavailable_page(patient.client.get("/intake/about"))
        drop["before_view"], drop["after_view"] = False, True
        # The page was made before its connection died: the failed clean-up at teardown does not replace it.
        after = patient.client.get("/intake/about")
        assert after.status_code == 200
        assert "Step 3 of" in after.get_data(as_text=True)
        drop["after_view"] = False
        assert patient.client.get("/intake/about").status_code == 200  # the next request has a new connection
    finally:
        admin.dispose()


@needs_postgres
def test_item_9_posted_while_the_database_is_down_shows_the_crisis_section(
    new_app: Callable[..., Flask], pg: Server
) -> None:
    app = new_app(pg.url)
    patient = Patient(app.test_client())
    patient.answer_all(until="mood")
    pg.stop()
    text = assert_unavailable_page(patient.answer("mood", {"phq9_9": "1"}))
    assert text.index(CRISIS_NOW) < text.index("<h2>")  # first on the page
    assert "You told us you have had thoughts" in text
    assert UNSAVED in text
    other = assert_unavailable_page(patient.answer("mood"))  # item 9 is 0: the short crisis notice only
    assert CRISIS_NOW not in other
    assert CRISIS_SHORT in other
    pg.start()
    assert patient.answer("mood", {"phq9_9": "1"}).headers["Location"].startswith("/intake/support")


# --- gunicorn, as the clinic runs it ----------------------------------------------------------


class HttpPatient:
    """One browser session over HTTP: cookies (even Secure ones on plain http) and the form's CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""

    def request(self, method: str, path: str, form: list[tuple[str, str]] | None = None) -> tuple[int, str, str]:
        """Send one request; return its status, Retry-After header and body."""
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        found = CSRF.search(text)
        if found:
            self.csrf_token = found.group(1)
        return response.status, response.headers.get("Retry-After", ""), text

    def answer(self, key: str, **overrides: str) -> tuple[int, str, str]:
        """Post one step's default answers, changed by ``overrides``."""
        answers = {**DEFAULT_ANSWERS[key], **overrides}
        pairs = [
            (name, value)
            for name, values in answers.items()
            for value in ([values] if isinstance(values, str) else values)
        ]
        return self.request("POST", step_path(key), [*pairs, ("csrf_token", self.csrf_token), ("action", "next")])

    def answer_until(self, until: str | None = None) -> None:
        """Answer every step in order, stopping before ``until``."""
        self.request("GET", "/")
        for key in STEP_ORDER:
            if key == until:
                return
            status, _, text = self.answer(key)
            assert status == 302, (key, status, text[:2000])


def _wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    """Wait until gunicorn answers, failing if it exits first."""
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "gunicorn exited"
        try:
            HttpPatient(port).request("GET", "/adults-only")
            return
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)


@needs_postgres
def test_gunicorn_rides_out_a_database_that_stops_hangs_and_returns(pg: Server, tmp_path: Path) -> None:
    pg.stop()
    port = free_port()
    env = {
        **os.environ,
        "SCREENING_DATABASE_URL": pg.url,
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        **CLINIC_ENV,
        "SCREENING_HUEY_URL": f"sqlite:///{tmp_path / 'huey.sqlite3'}",
        "SCREENING_DATABASE_CONNECT_TIMEOUT": "2",
        "SCREENING_RULES_CHECK_SECONDS": "0",
    }
    env.pop("SCREENING_ENVIRONMENT", None)
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_serving(port, server)  # booted while the database was down
        first = HttpPatient(port)
        status, _, text = first.request("GET", "/")
        assert status == 200 and "Step 1 of" in text
        status, _, text = first.request("GET", "/intake/support")
        assert status == 200 and 'href="tel:988"' in text
        first.answer("welcome")
        status, retry_after, text = first.answer("age")
        assert (status, retry_after.isdigit()) == (503, True) and CALM in text and CRISIS_SHORT in text

        pg.start()
        first.answer_until()
        status, _, _ = first.request("POST", "/intake/review", [("csrf_token", first.csrf_token), ("action", "submit")])
        assert status == 302
        status, _, text = first.request("GET", "/intake/done")
        assert status == 200 and "We have received your answers" in text
        engine = sa.create_engine(pg.url)
        with engine.connect() as connection:  # decided by the rule set the worker loaded once the database returned
            assert connection.scalar(sa.text("SELECT bool_and(ruleset_version IS NOT NULL) FROM decision")) is True
        engine.dispose()
        second = HttpPatient(port)
        second.answer_until("mood")

        pg.stop()
        with hung_listener(pg.port):
            status, retry_after, text = within(WELL_BEFORE_GUNICORN_TIMEOUT, lambda: second.answer("mood", phq9_9="2"))
        assert (status, retry_after.isdigit()) == (503, True)
        assert CRISIS_NOW in text and UNSAVED in text

        pg.start()
        status, _, _ = second.answer("mood", phq9_9="2")
        assert status == 302
        assert server.poll() is None
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert b"Internal Server Error" not in errors, errors.decode()[-3000:]
