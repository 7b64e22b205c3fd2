"""Create or upgrade the database schema with Alembic."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration for the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Migrate the database at ``url`` to the latest schema; harmless when already there."""
    command.upgrade(alembic_config(url), "head")


def current_revision(engine: sa.Engine) -> str | None:
    """Return the schema revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """Return the newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    """Return every revision the code knows."""
    return frozenset(
        script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    )
