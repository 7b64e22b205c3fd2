"""Migration 0007: alerts stored before it are safety alerts, a second re-alert is refused, and it goes back down."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from screening import migrate
from screening.db import make_engine

SUBMISSION = (
    "INSERT INTO submission (id, reference, submitted_at, form_version, answers, scores, safety_flag, needs_action, "
    "status, row_version) VALUES (1, 'ABC-1234', '2026-11-01 10:00:00', 'test', '{}', '{}', 1, 1, 'open', 1)"
)
USER = (
    "INSERT INTO user_account (id, email, password_hash, role, disabled, created_at, session_version, failed_logins) "
    "VALUES (1, 'ada@clinic.test', 'x', 'physician', 0, '2026-11-01 10:00:00', 1, 0)"
)
ACTION = (
    "INSERT INTO review_action (submission_id, actor_id, at, action, note_for_patient) "
    "VALUES (1, 1, '2026-11-01 10:05:00', 'claim', 0)"
)
ALERT = "INSERT INTO alert (submission_id, created_at, status, attempts) VALUES (1, '2026-11-01 10:00:00', 'sent', 1)"
ESCALATION = (
    "INSERT INTO alert (submission_id, created_at, status, attempts, kind) "
    "VALUES (1, '2026-11-01 10:31:00', 'pending', 0, 'escalation')"
)


def test_alerts_become_safety_alerts_and_a_submission_has_one_escalation_at_most(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0005")
    engine = make_engine(url)
    with engine.begin() as connection:
        for statement in (SUBMISSION, USER, ACTION, ALERT):
            connection.execute(sa.text(statement))
    command.upgrade(config, "0007")
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT kind FROM alert")).scalars().all() == ["safety"]
        assert connection.execute(sa.text("SELECT contact_result FROM review_action")).scalars().all() == [None]
        connection.execute(sa.text(ALERT))  # another safety alert is allowed
        connection.execute(sa.text(ESCALATION))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(sa.text(ESCALATION))
    command.downgrade(config, "0005")
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "kind" not in {column["name"] for column in inspector.get_columns("alert")}
        assert "contact_result" not in {column["name"] for column in inspector.get_columns("review_action")}
        assert connection.execute(sa.text("SELECT count(*) FROM alert")).scalar() == 3
    engine.dispose()
