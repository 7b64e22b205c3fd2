"""Migration 0005: versions stored before it get one activation each, so the newest stays active."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy import orm

from screening import migrate
from screening.db import make_engine
from screening.active_rules import store
from screening.engine.loader import read_sources
from screening.engine.loader import version_of

from .ruleset_files import RULES


def test_versions_stored_before_become_activations_with_the_newest_active(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0004")
    engine = make_engine(url)
    sources = read_sources(RULES)
    older = {**sources, "flags.yaml": sources["flags.yaml"] + "# older\n"}
    with engine.begin() as connection:
        for at, text in (("2026-11-01 10:00:00", older), ("2026-11-20 10:00:00", sources)):
            connection.execute(
                sa.text(
                    "INSERT INTO ruleset_version (version, sources, activated_at, origin) "
                    "VALUES (:version, :sources, :at, 'files')"
                ),
                {"version": version_of(text), "sources": json.dumps(text), "at": at},
            )
    command.upgrade(config, "0005")
    with engine.connect() as connection, orm.Session(connection) as session:
        history = store.activations(session)
        current = store.active(session)
    assert [(activation.kind, activation.actor, version.version) for activation, version in history] == [
        ("bootstrap", "system", version_of(sources)),
        ("bootstrap", "system", version_of(older)),
    ]
    assert current is not None and current.version.version == version_of(sources)
    command.downgrade(config, "0004")
    with engine.connect() as connection:
        assert "ruleset_activation" not in sa.inspect(connection).get_table_names()
    engine.dispose()
