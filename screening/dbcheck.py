"""Say in one line why the database cannot be used and what to run: it does not exist, is not migrated, or is out
of reach.

Every command that uses the database checks it first (``needs_database``) and the web server checks it at start
(``serving_problem``), so an operator reads one line instead of a traceback, or a site serving 500s. No line
shows the password of the database URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec
from typing import TypeVar

import click
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext

from . import db
from . import migrate

INIT_DB = "flask --app screening init-db"

#: The kinds of problem. Only an unreachable database may be temporary: the web server starts anyway.
MISSING = "missing"
UNMIGRATED = "unmigrated"
UNUSABLE = "unusable"
UNREACHABLE = "unreachable"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Problem:
    """Why the database cannot be used: its kind and the one line an operator reads."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def diagnose(engine: sa.Engine) -> Problem | None:
    """Return what keeps the app from using the database of ``engine``, or None when it is ready."""
    missing = _missing_sqlite_file(engine.url)
    if missing is not None:
        return missing  # connecting would create an empty file
    try:
        revision = migrate.current_revision(engine)
        has_tables = revision is not None or bool(sa.inspect(engine).get_table_names())
    except sa.exc.DBAPIError as error:
        return explain(engine.url, error)
    return _schema_problem(revision, has_tables)


def explain(url: sa.URL, error: sa.exc.DBAPIError) -> Problem:
    """Return the one line for an error the database raised (connecting, or later in a command)."""
    reason = _reason(error)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if url.get_backend_name() == "sqlite":
        hint = " (does its directory exist, and may this user write to it?)" if "unable to open" in reason else ""
        kind = UNREACHABLE if "locked" in reason else UNUSABLE  # a lock passes; an unreadable file stays so
        return Problem(kind, f"cannot use the SQLite database {url.database}: {reason}{hint}")
    server = _server(url)
    missing = re.search(r'database "(.*)" does not exist', reason)
    if missing is not None:
        return Problem(
            MISSING,
            f'{server} has no database "{missing.group(1)}": create it (createdb {missing.group(1)}), '
            f"then run `{INIT_DB}`",
        )
    if reason.startswith("FATAL:"):  # the server answered and refused: wrong user, password or permission
        return Problem(UNREACHABLE, f"{server} refused the connection: {_strip_fatal(reason)}")
    return Problem(UNREACHABLE, f"cannot reach {server}: {reason}")


@contextmanager
def database_errors(url: sa.URL) -> Iterator[None]:
    """Turn a database that fails during a command into its one-line error."""
    try:
        yield
    except sa.exc.OperationalError as error:
        raise click.ClickException(explain(url, error).message) from None


def needs_database(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command in the app context once the database is ready; else exit 1 with the one line."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        engine = db.engine_for(current_app)
        problem = diagnose(engine)
        if problem is not None:
            raise click.ClickException(problem.message)
        with database_errors(engine.url):
            return command(*args, **kwargs)

    return with_appcontext(run)  # type: ignore[return-value]


def serving_problem(app: Flask) -> Problem | None:
    """Return the problem that must keep the web server from starting: a database missing, not migrated, or unusable.

    A database out of reach may come back: log it in one line and let the server start.
    """
    engine = db.engine_for(app)
    problem = diagnose(engine)
    engine.dispose()  # leave no connection behind for workers forked after this (gunicorn --preload) to share
    if problem is not None and problem.kind == UNREACHABLE:
        app.logger.warning("%s; starting anyway", problem.message)
        return None
    return problem


def _missing_sqlite_file(url: sa.URL) -> Problem | None:
    """Return the problem of a SQLite URL naming a file that does not exist."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    if Path(str(url.database)).exists():
        return None
    return Problem(MISSING, f"the SQLite database {url.database} does not exist: run `{INIT_DB}`")


def _schema_problem(revision: str | None, has_tables: bool) -> Problem | None:
    """Return the problem of a database at schema ``revision``, or None when it is the code's newest."""
    head = migrate.head_revision()
    if revision == head:
        return None
    if revision is None and not has_tables:
        return Problem(UNMIGRATED, f"the database has no tables: run `{INIT_DB}`")
    if revision is None:
        return Problem(
            UNMIGRATED,
            "the database has tables but no schema revision: it was not made by init-db; "
            "check that SCREENING_DATABASE_URL names this app's database",
        )
    if revision in migrate.known_revisions():
        return Problem(
            UNMIGRATED, f"the database schema is at revision {revision}, older than the code's {head}: run `{INIT_DB}`"
        )
    return Problem(
        UNMIGRATED,
        f"the database schema is at revision {revision}, which this code does not know (its newest is {head}): "
        "a newer version of the app migrated it; run that version",
    )


def _reason(error: sa.exc.DBAPIError) -> str:
    """Return the driver's own words, without the SQL, the tips and the "connection to server at" preamble."""
    lines = str(error.orig).strip().splitlines() or [type(error.orig).__name__]
    reason = lines[0].strip()
    resolve = re.match(r"failed to resolve host '([^']*)': (?:\[Errno -?\d+\] )?(.*)", reason)
    if resolve is not None:
        return f"unknown host name ({resolve.group(2)})"
    if "failed: " in reason:  # libpq: 'connection failed: connection to server at "h", port p failed: REASON'
        reason = reason.rsplit("failed: ", 1)[1]
    if reason[:1].isupper() and reason[1:2].islower():
        reason = reason[0].lower() + reason[1:]
    return reason


def _strip_fatal(reason: str) -> str:
    """Return a server error without its FATAL: severity."""
    return reason.removeprefix("FATAL:").strip()


def _server(url: sa.URL) -> str:
    """Return how the database server is named in messages: backend, host and port, never the password."""
    if url.get_backend_name() == "postgresql":
        return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"
    return f"the database at {url.render_as_string(hide_password=True)}"
