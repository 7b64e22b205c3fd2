"""The database: one engine per app, one session per request, and the model base class."""

from __future__ import annotations

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

EXTENSION_KEY = "screening.db"


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


def make_engine(url: str) -> sa.Engine:
    """Create an engine with settings that suit the backend; answers never appear in its error logs."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Enforce foreign keys and let readers work while one process writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask) -> None:
    """Give the app its engine and close the request's session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
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
    """Roll back anything uncommitted and return the connection to the pool."""
    session: orm.Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
