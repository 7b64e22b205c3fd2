"""Fixtures: an app per test on each database backend, a client, a CLI runner, and a patient helper.

Every test that uses ``app`` runs once on SQLite and, when SCREENING_TEST_POSTGRES_URL names
a server, once more on PostgreSQL (each parallel worker of ``pytest -n`` on a database of its own). The schema is migrated once per backend and session; the
tables are emptied after every test.
"""

from __future__ import annotations

import os
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from contextlib import contextmanager
from typing import Any
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask.testing import FlaskCliRunner

from screening import create_app
from screening import migrate
from screening.auth import clock as auth_clock
from screening.db import Model
from screening.db import engine_for

from .accounts import auth, users  # noqa: F401
from .app_cost import TEMPLATES
from .app_cost import share_url_builders
from .consumers import consumer_env  # noqa: F401 - the environment of a consumer process
from .mail import smtp, smtp_down  # noqa: F401 - fixtures of the e-mail tests
from .patient import Patient
from .production.scheduling import pytest_xdist_make_scheduler  # noqa: F401 - one worker for the stage

share_url_builders()

POSTGRES_URL = os.environ.get("SCREENING_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
#: Real-browser tests exercise pages, not SQL: they run on the production database when a server is given. Every
#: query runs on both backends in the rest of the suite, and the production stage drives PostgreSQL in a browser.
BROWSER_BACKENDS = BACKENDS[-1:]
#: The address the app under test believes it is served at.
PUBLIC_BASE_URL = "https://screening.clinic.example"
#: A secret production accepts, as `python3 -c 'import secrets; print(secrets.token_hex(32))'` makes one.
PRODUCTION_SECRET = "9f1c2e7a4b8d0f3e6a1c5b9d2e8f4a7c0b3d6e9f2a5c8b1d4e7f0a3c6b9d2e5f"
#: The clinic the test apps name: every setting filled in, so pages show the whole footer.
CLINIC = {
    "CLINIC_NAME": "Harbor Ketamine Clinic",
    "CLINIC_PHONE": "+1 212 555 0123",
    "CLINIC_EMAIL": "care@clinic.example",
    "CLINIC_ADDRESS": "12 Harbor Street\nSuite 4\nNew York, NY 10001",
    "CLINIC_HOURS": "Monday to Friday, 9 am to 5 pm",
    "CLINIC_WEBSITE": "https://clinic.example/",
}
#: A key for the patients' contact details, as `Fernet.generate_key()` makes one (production needs one).
CONTACT_KEY = "pC0b7mWJ3y0q9o0l3m6Jw2m1eY1YfS6hQ3bT8jGk4nE="
#: What production needs of the clinic, as a server's environment gives it: its name and phone number, and the
#: key its patients' contact details are encrypted with.
CLINIC_ENV = {
    "SCREENING_CLINIC_NAME": CLINIC["CLINIC_NAME"],
    "SCREENING_CLINIC_PHONE": CLINIC["CLINIC_PHONE"],
    "SCREENING_CONTACT_KEYS": CONTACT_KEY,
}


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Migrate one database per backend for the whole session."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"}
    if POSTGRES_URL:
        url = _postgres_database(POSTGRES_URL, os.environ.get("PYTEST_XDIST_WORKER"))
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        urls["postgresql"] = url
    for url in urls.values():
        migrate.upgrade(url)
    return urls


def _postgres_database(url: str, worker: str | None) -> str:
    """Return the database of this test process: the one given, or one per parallel worker ("gw0", ...)."""
    if worker is None:
        return url
    given = sa.make_url(url)
    name = f"{given.database}_{worker}"
    engine = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


def _empty_tables(app: Flask) -> None:
    """Delete every row, children first."""
    with engine_for(app).begin() as connection:
        for table in reversed(Model.metadata.sorted_tables):
            connection.execute(table.delete())


@contextmanager
def app_on(database_url: str, **config: Any) -> Iterator[Flask]:
    """Yield a test app on a migrated database; afterwards empty its tables and close its connections."""
    app = make_app(database_url, **config)
    try:
        yield app
    finally:
        _empty_tables(app)
        engine_for(app).dispose()


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> Iterator[Flask]:
    """Return an app on a migrated, empty database of the backend under test."""
    with app_on(database_urls[request.param]) as app:
        yield app


def make_app(database_url: str, **config: Any) -> Flask:
    """Create an app for tests, with a fixed secret and the test clinic (both of which production accepts)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": PRODUCTION_SECRET,
            **CLINIC,
            "CONTACT_KEYS": CONTACT_KEY,
            "DATABASE_URL": database_url,
            # Links the app hands out come from this setting, never from the test client's "localhost".
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            **config,
        }
    )
    app.jinja_env.bytecode_cache = TEMPLATES  # templates compiled once per test process
    return app


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """Return a test client, as one patient's browser."""
    return app.test_client()


@pytest.fixture()
def runner(app: Flask) -> FlaskCliRunner:
    """Return a runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture()
def patient(client: FlaskClient) -> Patient:
    """Return a helper that walks the wizard as a patient."""
    return Patient(client)


class Clock:
    """A clock the tests move by hand; installed as ``screening.auth.clock.now`` by ``clock``."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze the app's clock (``screening.auth.clock``) at now; tests advance it."""
    frozen = Clock()
    monkeypatch.setattr(auth_clock, "now", frozen)
    return frozen
