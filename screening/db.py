"""The database: one engine per app, one session per request, and the model base class."""

from __future__ import annotations

import logging
import math
import typing as t
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import ClassVar

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import event
from sqlalchemy import orm
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import SQLAlchemyError

EXTENSION_KEY = "screening.db"
log = logging.getLogger(__name__)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC on every backend and read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC; refuse naive input."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Attach UTC to the stored naive value."""
        return None if value is None else value.replace(tzinfo=UTC)


class Model(orm.DeclarativeBase):
    """Base class of every table, with a constraint naming convention Alembic can diff."""

    metadata: ClassVar[sa.MetaData] = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: sa.JSON, datetime: UTCDateTime}


def make_engine(url: str, *, connect_timeout: float | None = None, statement_timeout: float | None = None) -> sa.Engine:
    """Create an engine with settings that suit the backend; answers never appear in its error logs.

    ``connect_timeout`` bounds opening a connection (and waiting for a free one in the pool),
    ``statement_timeout`` one statement (on SQLite: waiting for another writer's lock), in seconds;
    None leaves the driver's defaults, for long-running jobs.
    """
    if url.startswith("sqlite"):
        busy_seconds = 30.0 if statement_timeout is None else statement_timeout
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_seconds}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_seconds))
        return engine
    connect_args: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    if connect_timeout is not None:
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))  # libpq counts whole seconds
        pool["pool_timeout"] = connect_timeout
    if statement_timeout is not None:
        connect_args["options"] = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args, **pool)


def _sqlite_pragmas(busy_seconds: float) -> t.Callable[[Any, Any], None]:
    """Return the connect hook that sets up each SQLite connection."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        """Enforce foreign keys, let readers work while one process writes, and bound the wait for a lock."""
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_seconds * 1000)}")
        cursor.close()

    return on_connect


def init_app(app: Flask) -> None:
    """Give the app its engine and close the request's session at teardown."""
    engine = make_engine(
        app.config["DATABASE_URL"],
        connect_timeout=float(app.config["DATABASE_CONNECT_TIMEOUT"]),
        statement_timeout=float(app.config["DATABASE_STATEMENT_TIMEOUT"]),
    )
    app.extensions[EXTENSION_KEY] = orm.sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine_for(app: Flask) -> sa.Engine:
    """Return the app's engine."""
    return t.cast(sa.Engine, app.extensions[EXTENSION_KEY].kw["bind"])


def new_session(app: Flask) -> orm.Session:
    """Open a session outside any request (CLI commands, background work)."""
    session: orm.Session = app.extensions[EXTENSION_KEY]()
    return session


def get_session() -> orm.Session:
    """Return the session of the current app context, opening it on first use."""
    if "db_session" not in g:
        g.db_session = new_session(current_app)
    session: orm.Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    """Roll back anything uncommitted and return the connection to the pool.

    A connection the server dropped fails its rollback; the response is already made (and any
    commit done), so the connection is discarded instead of turning the page into a bare 500.
    """
    session: orm.Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError as error:
        log.warning("discarding a database connection that failed to close (%s)", type(error).__name__)
        session.invalidate()


def is_unavailable(error: BaseException) -> bool:
    """Return True when ``error`` means the database cannot be reached or did not answer in time."""
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True  # refused, dropped, timed out, locked, or the pool had no connection to give
    return isinstance(error, DBAPIError) and error.connection_invalidated


def reachable(app: Flask) -> bool:
    """Return True when a connection to the app's database can be opened now."""
    try:
        with engine_for(app).connect():
            return True
    except SQLAlchemyError:
        return False
