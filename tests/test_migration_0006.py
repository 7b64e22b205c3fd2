"""Migration 0006: submissions stored before it keep their answers and get empty context facts."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from screening import migrate
from screening.db import make_engine


def test_submissions_stored_before_get_no_context_facts_and_a_contact_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0005")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO submission (reference, submitted_at, form_version, answers, scores, safety_flag, "
                "needs_action, status, row_version) VALUES ('K7M4-QX9P', '2026-11-20 10:00:00', 'intake-2026.11-1', "
                "'{\"age\": 40}', '{}', 0, 1, 'open', 1)"
            )
        )
    command.upgrade(config, "0006")
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT answers, context_facts FROM submission")).one()
        tables = sa.inspect(connection).get_table_names()
        draft_columns = {column["name"] for column in sa.inspect(connection).get_columns("draft")}
    assert (row.answers, row.context_facts) == ('{"age": 40}', "{}")
    assert "submission_contact" in tables and "contact_sealed" in draft_columns
    command.downgrade(config, "0005")
    with engine.connect() as connection:
        assert "submission_contact" not in sa.inspect(connection).get_table_names()
        assert "context_facts" not in {c["name"] for c in sa.inspect(connection).get_columns("submission")}
    engine.dispose()
