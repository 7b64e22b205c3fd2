"""Commands on a database that does not exist, is not migrated or cannot be reached: one line that says what is
wrong and what to run, a non-zero exit, and no traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask

from screening import migrate
from screening.answers import example_document
from screening.db import engine_for
from screening.db import make_engine

from .conftest import POSTGRES_URL
from .conftest import make_app

INIT_DB = "`flask --app screening init-db`"

#: One invocation of every command that uses the database (arguments need only get past click's parsing).
COMMANDS: dict[str, list[str]] = {
    "purge-drafts": ["purge-drafts"],
    "screen": ["screen", "-"],
    "seed": ["seed", "--count", "1"],
    "users create": ["users", "create", "new@clinic.example", "--role", "staff"],
    "users list": ["users", "list"],
    "users disable": ["users", "disable", "someone@clinic.example"],
    "users set-role": ["users", "set-role", "someone@clinic.example", "admin"],
    "alerts list": ["alerts", "list"],
    "alerts retry": ["alerts", "retry"],
    "rules activate": ["rules", "activate"],
    "rules reevaluate": ["rules", "reevaluate", "ABCD-2345"],
    "rules explain": ["rules", "explain", "ABCD-2345"],
    "rules publish": ["rules", "publish", "--by", "staff@clinic.example"],
    "rules approve": ["rules", "approve", "1", "--version", "sha256:0123ab", "--by", "doctor@clinic.example"],
    "rules drafts": ["rules", "drafts"],
    "rules rollback": ["rules", "rollback", "sha256:0123", "--by", "staff@clinic.example"],
    "rules export": ["rules", "export", "sha256:0123", "exported"],
    "rules versions": ["rules", "versions"],
    "rules backtest": ["rules", "backtest"],
    "contacts rotate-key": ["contacts", "rotate-key"],
    "contacts purge": ["contacts", "purge"],
    "export csv": ["export", "csv", "--from", "2026-12-01", "--to", "2026-12-01", "exported.csv"],
    "export fhir": ["export", "fhir", "--from", "2026-12-01", "--to", "2026-12-01", "exported"],
}
#: Commands that read the rule files only: they work without any database.
FILES_ONLY = {"rules check", "rules test", "rules facts"}


@pytest.fixture()
def new_app() -> Iterator[Callable[[str], Flask]]:
    """Return a factory of apps on a given database URL; their connections are closed after the test."""
    apps: list[Flask] = []

    def factory(url: str) -> Flask:
        apps.append(make_app(url))
        return apps[-1]

    yield factory
    for app in apps:
        engine_for(app).dispose()


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(app: Flask, args: list[str]) -> list[str]:
    """Run a command that must fail cleanly; return its output lines."""
    result = app.test_cli_runner().invoke(args=args, input=json.dumps(example_document()) + "\n")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception escaping as a traceback
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


def command_names(group: click.Group, prefix: str = "") -> Iterator[str]:
    """Yield the full name of every command below ``group``."""
    for name, child in group.commands.items():
        if isinstance(child, click.Group):
            yield from command_names(child, f"{prefix}{name} ")
        else:
            yield prefix + name


def sqlite_at_revision(path: Path, revision: str) -> str:
    """Return the URL of a SQLite database migrated to ``revision``."""
    url = f"sqlite:///{path}"
    command.upgrade(migrate.alembic_config(url), revision)
    return url


def test_every_command_is_checked_here(new_app: Callable[[str], Flask], tmp_path: Path) -> None:
    app = new_app(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert set(command_names(app.cli)) == set(COMMANDS) | FILES_ONLY | {"init-db"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_on_a_missing_sqlite_file_says_run_init_db_and_creates_no_file(
    new_app: Callable[[str], Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "missing.sqlite3"
    lines = run(new_app(f"sqlite:///{path}"), COMMANDS[name])
    assert lines == [f"Error: the SQLite database {path} does not exist: run {INIT_DB}"]
    assert not path.exists()


@pytest.mark.parametrize("name", sorted(FILES_ONLY))
def test_commands_on_the_rule_files_need_no_database(
    new_app: Callable[[str], Flask], tmp_path: Path, name: str
) -> None:
    path = tmp_path / "missing.sqlite3"
    result = new_app(f"sqlite:///{path}").test_cli_runner().invoke(args=name.split())
    assert result.exit_code == 0, result.output
    assert not path.exists()


@pytest.mark.parametrize("name", ["users list", "screen"])
def test_a_database_with_no_tables(new_app: Callable[[str], Flask], tmp_path: Path, name: str) -> None:
    path = tmp_path / "empty.sqlite3"
    path.touch()
    assert run(new_app(f"sqlite:///{path}"), COMMANDS[name]) == [f"Error: the database has no tables: run {INIT_DB}"]


def test_a_database_at_an_older_revision(new_app: Callable[[str], Flask], tmp_path: Path) -> None:
    head = migrate.head_revision()
    older = {"0005": "0004"}.get(str(head), "0001")
    url = sqlite_at_revision(tmp_path / "old.sqlite3", older)
    assert run(new_app(url), COMMANDS["users list"]) == [
        f"Error: the database schema is at revision {older}, older than the code's {head}: run {INIT_DB}"
    ]


@pytest.mark.parametrize("name", ["users list", "init-db"])
def test_a_database_migrated_by_a_newer_version(new_app: Callable[[str], Flask], tmp_path: Path, name: str) -> None:
    url = sqlite_at_revision(tmp_path / "new.sqlite3", "head")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert run(new_app(url), COMMANDS.get(name, [name])) == [
        f"Error: the database schema is at revision 9999, which this code does not know "
        f"(its newest is {migrate.head_revision()}): a newer version of the app migrated it; run that version"
    ]


def test_a_database_with_tables_of_something_else(new_app: Callable[[str], Flask], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    assert run(new_app(url), COMMANDS["users list"]) == [
        "Error: the database has tables but no schema revision: it was not made by init-db; "
        "check that SCREENING_DATABASE_URL names this app's database"
    ]


@pytest.mark.parametrize("name", ["users list", "init-db"])
def test_postgresql_refusing_connections(new_app: Callable[[str], Flask], name: str) -> None:
    port = free_port()
    app = new_app(f"postgresql+psycopg://clinic:s3cret-password@127.0.0.1:{port}/screening")
    lines = run(app, COMMANDS.get(name, [name]))
    assert lines == [f"Error: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused"]


def test_postgresql_on_a_host_that_does_not_exist(new_app: Callable[[str], Flask]) -> None:
    app = new_app("postgresql+psycopg://clinic:s3cret-password@db.invalid:5433/screening")
    [line] = run(app, COMMANDS["users list"])
    assert line.startswith("Error: cannot reach PostgreSQL at db.invalid:5433: unknown host name (")
    assert "s3cret-password" not in line


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_postgres_url_without_a_driver_means_psycopg(new_app: Callable[[str], Flask], scheme: str) -> None:
    port = free_port()
    app = new_app(f"{scheme}://clinic:s3cret-password@127.0.0.1:{port}/screening")
    assert app.config["DATABASE_URL"] == f"postgresql+psycopg://clinic:s3cret-password@127.0.0.1:{port}/screening"
    assert run(app, COMMANDS["users list"]) == [
        f"Error: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused"
    ]


def test_init_db_in_a_directory_that_does_not_exist(new_app: Callable[[str], Flask], tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "screening.sqlite3"
    assert run(new_app(f"sqlite:///{path}"), ["init-db"]) == [
        f"Error: cannot use the SQLite database {path}: unable to open database file "
        "(does its directory exist, and may this user write to it?)"
    ]


def test_a_database_failing_during_a_command(new_app: Callable[[str], Flask], tmp_path: Path) -> None:
    path = tmp_path / "read-only.sqlite3"
    sqlite_at_revision(path, "head")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass  # switch it to WAL, which a read-only connection cannot do
    engine.dispose()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert run(new_app(url), COMMANDS["purge-drafts"]) == [
        f"Error: cannot use the SQLite database file:{path}: attempt to write a readonly database"
    ]


needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="needs SCREENING_TEST_POSTGRES_URL")


def _on_the_test_server(database: str) -> str:
    """Return the URL of ``database`` on the test PostgreSQL server."""
    return sa.make_url(str(POSTGRES_URL)).set(database=database).render_as_string(hide_password=False)


@needs_postgres
@pytest.mark.parametrize("name", ["users list", "init-db"])
def test_a_postgresql_database_that_does_not_exist(new_app: Callable[[str], Flask], name: str) -> None:
    url = sa.make_url(str(POSTGRES_URL))
    app = new_app(_on_the_test_server("screening_no_such_database"))
    assert run(app, COMMANDS.get(name, [name])) == [
        f'Error: PostgreSQL at {url.host}:{url.port} has no database "screening_no_such_database": '
        f"create it (createdb screening_no_such_database), then run {INIT_DB}"
    ]


@needs_postgres
def test_an_empty_postgresql_database(new_app: Callable[[str], Flask]) -> None:
    name = "screening_empty"
    server = sa.create_engine(str(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    assert run(new_app(_on_the_test_server(name)), COMMANDS["users list"]) == [
        f"Error: the database has no tables: run {INIT_DB}"
    ]


@needs_postgres
def test_a_postgres_url_reaches_the_server(new_app: Callable[[str], Flask], database_urls: dict[str, str]) -> None:
    url = database_urls["postgresql"].replace("postgresql+psycopg://", "postgres://", 1)
    result = new_app(url).test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    assert "No users yet" in result.output


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"SCREENING_ENVIRONMENT": "production"}, "Error: SECRET_KEY is not set."),
        ({"SCREENING_DATABASE_URL": "nonsense::"}, "Error: SCREENING_DATABASE_URL is not a database this app"),
        ({"SCREENING_DATABASE_URL": "mysql://u:hunter2@h/db"}, "Error: SCREENING_DATABASE_URL is not a database"),
        ({"SCREENING_DATABASE_CONNECT_TIMEOUT": "abc"}, "Error: SCREENING_DATABASE_CONNECT_TIMEOUT must be a number"),
    ],
)
def test_an_unusable_setting_is_one_line_before_any_command(
    tmp_path: Path, settings: dict[str, str], line: str
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **settings}
    env.pop("SCREENING_SECRET_KEY", None)
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "screening", "users", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith(line), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.stderr
