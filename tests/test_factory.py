"""The app factory, configuration order, secret key handling and the database commands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from screening import config
from screening import create_app
from screening import migrate
from screening.db import Model
from screening.db import engine_for
from .conftest import CLINIC
from .conftest import CLINIC_ENV
from .conftest import CONTACT_KEY
from .conftest import PRODUCTION_SECRET


def bare_app(instance: Path) -> Flask:
    """Return a Flask app with its own instance folder, before configuration."""
    return Flask("screening", instance_path=str(instance), instance_relative_config=True)


def test_testing_flag() -> None:
    assert not create_app({"SECRET_KEY": "k"}).testing
    assert create_app({"SECRET_KEY": "k", "TESTING": True}).testing


def test_config_order_defaults_file_env_test_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.py").write_text("DRAFT_TTL_DAYS = 3\nRULES_DIR = 'from-file'\nPROXY_COUNT = 1\n")
    monkeypatch.setenv("SCREENING_RULES_DIR", "from-env")
    monkeypatch.setenv("SCREENING_PROXY_COUNT", "2")
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k", "PROXY_COUNT": 3})
    assert app.config["DRAFT_TTL_DAYS"] == 3  # file beats default
    assert app.config["RULES_DIR"] == "from-env"  # environment beats file
    assert app.config["PROXY_COUNT"] == 3  # test_config beats environment
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024  # default kept


def test_environment_variables_use_the_screening_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.setenv("SCREENING_DATABASE_URL", url)
    monkeypatch.setenv("SCREENING_SECRET_KEY", "from-environment")
    app = create_app()
    assert app.config["DATABASE_URL"] == url
    assert app.config["SECRET_KEY"] == "from-environment"


def test_production_refuses_the_default_secret(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="SCREENING_SECRET_KEY"):
        config.load(bare_app(tmp_path), {"ENVIRONMENT": "production"})
    assert not (tmp_path / config.SECRET_KEY_FILE).exists()


def test_production_with_a_secret_sets_secure_cookies(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    config.load(
        app, {"ENVIRONMENT": "production", "SECRET_KEY": PRODUCTION_SECRET, **CLINIC, "CONTACT_KEYS": CONTACT_KEY}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("a-real-secret", "shorter than 32 bytes"),
        ("Xk29fj", "shorter than 32 bytes"),
        ("please-change-me-to-something-long-and-random", "placeholder"),
        ("your-production-key-goes-here-123456789", "placeholder"),
        ("SUPER_SECRET_KEY_FOR_OUR_CLINIC_2026!!", "placeholder"),
        ("abababababababababababababababababab", "too few characters"),
        ("0" * 64, "too few characters"),
    ],
)
def test_production_refuses_a_guessable_secret(tmp_path: Path, secret: str, problem: str) -> None:
    with pytest.raises(config.ConfigError, match=problem) as refused:
        config.load(bare_app(tmp_path), {"ENVIRONMENT": "production", "SECRET_KEY": secret})
    assert secret not in str(refused.value)  # the message never repeats the secret
    assert "secrets.token_hex(32)" in str(refused.value)


def test_development_accepts_any_secret(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k"})
    assert app.config["SECRET_KEY"] == "k"


def test_development_generates_a_secret_once(tmp_path: Path) -> None:
    first = bare_app(tmp_path)
    config.load(first, {})
    secret_file = tmp_path / config.SECRET_KEY_FILE
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert first.config["SECRET_KEY"] == secret_file.read_text() != config.DEFAULT_SECRET_KEY
    assert len(first.config["SECRET_KEY"]) == 64
    second = bare_app(tmp_path)
    config.load(second, {})
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert second.config["SESSION_COOKIE_SECURE"] is False


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="development' or 'production"):
        config.load(bare_app(tmp_path), {"ENVIRONMENT": "staging", "SECRET_KEY": "k"})


def test_wsgi_defaults_to_production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib
    import sys

    url = f"sqlite:///{tmp_path / 'wsgi.sqlite3'}"
    migrate.upgrade(url)
    monkeypatch.delenv("SCREENING_ENVIRONMENT", raising=False)
    monkeypatch.setenv("SCREENING_SECRET_KEY", PRODUCTION_SECRET)
    for name, value in CLINIC_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SCREENING_DATABASE_URL", url)
    modules = ("wsgi", "screening.wsgi")  # wsgi.py imports the package's module: both load afresh
    for name in modules:
        sys.modules.pop(name, None)
    try:
        wsgi = importlib.import_module("wsgi")
    finally:
        os.environ.pop("SCREENING_ENVIRONMENT", None)  # set by screening/wsgi.py itself, not by monkeypatch
        for name in modules:
            sys.modules.pop(name, None)
    assert wsgi.app.config["ENVIRONMENT"] == "production"
    assert wsgi.app.config["SESSION_COOKIE_SECURE"] is True


def test_init_db_creates_then_is_harmless_twice(tmp_path: Path) -> None:
    app = create_app({"SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"})
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert f"revision {migrate.head_revision()}" in result.output
    tables = sa.inspect(engine_for(app)).get_table_names()
    assert {"draft", "submission", "audit_event", "alembic_version"} <= set(tables)


def test_migrations_match_the_models(app: Flask) -> None:
    """Would fail if a model changed without a migration (on each backend)."""
    with engine_for(app).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Model.metadata)
    assert diff == []
    assert migrate.current_revision(engine_for(app)) == migrate.head_revision()


def test_proxy_count_trusts_forwarded_client_address(tmp_path: Path) -> None:
    seen: list[str | None] = []
    app = create_app({"SECRET_KEY": "k", "PROXY_COUNT": 1, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"})

    @app.get("/__address")
    def address() -> str:
        from flask import request

        seen.append(request.remote_addr)
        return "ok"

    app.test_client().get("/__address", headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen == ["203.0.113.9"]


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("SAFETY_ESCALATION_MINUTES", "thirty", "a whole number"),
        ("PATIENT_IDLE_MINUTES", -1, "a whole number"),
        ("ALERT_RETRIES", 2.5, "a whole number"),
        ("PATIENT_MESSAGE_RETRY_BACKOFF", "double", "a number"),
        ("CONTACT_RETENTION_DAYS", True, "a whole number"),
    ],
)
def test_a_numeric_setting_of_the_wrong_kind_is_refused_in_one_line(
    tmp_path: Path, name: str, value: object, kind: str
) -> None:
    with pytest.raises(config.ConfigError) as refused:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", name: value})
    assert (
        str(refused.value)
        == f"SCREENING_{name} must be {kind}, 0 or more (default {config.defaults('')[name]}), not {value!r}"
    )


def test_a_number_from_the_environment_is_read_as_a_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_SAFETY_ESCALATION_MINUTES", "45")
    monkeypatch.setenv("SCREENING_PATIENT_MESSAGE_RETRY_BACKOFF", "3")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert (app.config["SAFETY_ESCALATION_MINUTES"], app.config["PATIENT_MESSAGE_RETRY_BACKOFF"]) == (45, 3)
