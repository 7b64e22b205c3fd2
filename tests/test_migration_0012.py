"""Migration 0012: on PostgreSQL the queue counts follow each statement, and going down restores the row triggers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command

from screening import migrate
from screening.db import make_engine

from .conftest import POSTGRES_URL

INSERT = (
    "INSERT INTO submission (reference, submitted_at, form_version, answers, scores, safety_flag, needs_action, "
    "status, row_version, outcome) VALUES (:reference, '2026-11-01 10:00:00', 'test', '{}', '{}', false, true, "
    ":status, 1, 'candidate')"
)
COUNTS = "SELECT outcome, total FROM queue_count WHERE total <> 0 ORDER BY outcome"


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """Return the address of an empty PostgreSQL database of this test's own, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL (scripts/with-postgres.sh)")
    given = sa.make_url(POSTGRES_URL)
    name = f"{given.database}_m0012"
    server = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield given.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def trigger_levels(connection: sa.Connection) -> set[str]:
    """Return how the triggers on ``submission`` run: "ROW", "STATEMENT" or both."""
    rows = connection.execute(
        sa.text(
            "SELECT DISTINCT action_orientation FROM information_schema.triggers WHERE event_object_table = 'submission'"
        )
    )
    return set(rows.scalars())


def add_and_decide(connection: sa.Connection, references: list[str]) -> None:
    """Insert open candidates, then decide the first of them."""
    connection.execute(sa.text(INSERT), [{"reference": reference, "status": "open"} for reference in references])
    connection.execute(sa.text("UPDATE submission SET status = 'decided' WHERE reference = :r"), {"r": references[0]})


def test_the_counts_follow_statements_and_rows_after_each_step(postgres_url: str) -> None:
    config = migrate.alembic_config(postgres_url)
    command.upgrade(config, "0011")
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        add_and_decide(connection, ["R-1", "R-2", "R-3"])
        assert trigger_levels(connection) == {"ROW"}
    command.upgrade(config, "0012")
    with engine.begin() as connection:
        assert trigger_levels(connection) == {"STATEMENT"}
        assert connection.execute(sa.text(COUNTS)).all() == [("candidate", 2)]  # as counted before
        add_and_decide(connection, ["R-4", "R-5"])
        assert connection.execute(sa.text(COUNTS)).all() == [("candidate", 3)]
    command.downgrade(config, "0011")
    with engine.begin() as connection:
        assert trigger_levels(connection) == {"ROW"}
        add_and_decide(connection, ["R-6", "R-7"])
        connection.execute(sa.text("DELETE FROM submission WHERE reference = 'R-7'"))
        assert connection.execute(sa.text(COUNTS)).all() == [("candidate", 3)]
    engine.dispose()
