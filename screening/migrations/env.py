"""Alembic environment: migrates the database the caller names, no alembic.ini needed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from screening.db import Model
from screening import models  # noqa: F401  (registers the tables on Model.metadata)

config = context.config


def run_migrations() -> None:
    """Run the migrations on the connection or URL the caller put in the config."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
    engine.dispose()


def _run(connection: sa.Connection) -> None:
    """Configure the context on ``connection`` and upgrade."""
    context.configure(
        connection=connection,
        target_metadata=Model.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
