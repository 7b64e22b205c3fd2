"""The web server at start, on a database that does not exist or is not migrated: one line, and no server.

A database that is only out of reach may come back, so the server starts anyway and says so.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from screening import migrate
from screening.db import engine_for
from screening.dbcheck import serving_problem

from .conftest import POSTGRES_URL
from .conftest import CLINIC_ENV
from .conftest import PRODUCTION_SECRET
from .conftest import make_app
from .test_operator_errors import INIT_DB
from .test_operator_errors import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = PRODUCTION_SECRET


def _env(database_url: str) -> dict[str, str]:
    """Return the environment of a server on ``database_url``."""
    env = {**os.environ, "SCREENING_DATABASE_URL": database_url, "SCREENING_SECRET_KEY": SECRET, **CLINIC_ENV}
    env.pop("SCREENING_ENVIRONMENT", None)
    return env


def _gunicorn(database_url: str) -> subprocess.CompletedProcess[str]:
    """Start ``gunicorn -w 2 wsgi:app`` as production does and wait for it to stop."""
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{free_port()}", "wsgi:app"]
    return subprocess.run(command, cwd=ROOT, env=_env(database_url), capture_output=True, text=True, timeout=60)


def _flask_run(database_url: str) -> subprocess.CompletedProcess[str]:
    """Start ``flask --app screening run`` and wait for it to stop."""
    command = [sys.executable, "-m", "flask", "--app", "screening", "run", "--port", str(free_port())]
    return subprocess.run(command, cwd=ROOT, env=_env(database_url), capture_output=True, text=True, timeout=60)


def _refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    """Assert the server did not start, printing ``line`` and no traceback."""
    assert result.returncode != 0, result.stderr
    assert f"Error: {line}\n" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_gunicorn_refuses_to_start_on_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    _refused(_gunicorn(f"sqlite:///{path}"), f"the SQLite database {path} does not exist: run {INIT_DB}")
    assert not path.exists()


def test_gunicorn_refuses_to_start_on_a_database_with_no_tables(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch()
    _refused(_gunicorn(f"sqlite:///{path}"), f"the database has no tables: run {INIT_DB}")


def test_flask_run_refuses_to_start_on_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    _refused(_flask_run(f"sqlite:///{path}"), f"the SQLite database {path} does not exist: run {INIT_DB}")
    assert not path.exists()


def test_flask_run_refuses_to_start_on_an_older_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(migrate.alembic_config(url), "0001")
    head = migrate.head_revision()
    _refused(_flask_run(url), f"the database schema is at revision 0001, older than the code's {head}: run {INIT_DB}")


def test_flask_run_starts_when_postgresql_is_out_of_reach(tmp_path: Path) -> None:
    db_port, port = free_port(), free_port()
    env = _env(f"postgresql+psycopg://clinic:s3cret-password@127.0.0.1:{db_port}/screening")
    command = [sys.executable, "-m", "flask", "--app", "screening", "run", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, server)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{db_port}: connection refused; starting anyway" in errors
    assert "s3cret-password" not in errors


def _wait_for_port(port: int, server: subprocess.Popen[str]) -> None:
    """Return once something listens on ``port``; fail if the server exits or 30 s pass first."""
    deadline = time.monotonic() + 30
    while server.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not start (exit status {server.poll()})")


def test_a_file_that_is_not_a_database_keeps_the_server_from_starting(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("not a database, but the notes someone kept here " * 100)
    app = make_app(f"sqlite:///{path}")
    problem = serving_problem(app)
    engine_for(app).dispose()
    assert str(problem) == f"cannot use the SQLite database {path}: file is not a database"


def test_postgresql_out_of_reach_lets_the_server_start_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    app = make_app(f"postgresql+psycopg://clinic:s3cret-password@127.0.0.1:{port}/screening")
    with caplog.at_level(logging.WARNING):
        assert serving_problem(app) is None
    engine_for(app).dispose()
    assert caplog.messages == [f"cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused; starting anyway"]


@pytest.mark.skipif(not POSTGRES_URL, reason="needs SCREENING_TEST_POSTGRES_URL")
def test_gunicorn_refuses_to_start_on_a_postgresql_database_that_does_not_exist() -> None:
    server = sa.make_url(str(POSTGRES_URL))
    url = server.set(database="screening_absent").render_as_string(hide_password=False)
    _refused(
        _gunicorn(url),
        f'PostgreSQL at {server.host}:{server.port} has no database "screening_absent": '
        f"create it (createdb screening_absent), then run {INIT_DB}",
    )
