"""Migration 0010: a stored dry run's changes move to their own rows, read as before, and move back down."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from screening import migrate
from screening.db import make_engine
from screening.db import new_session
from screening.engine.dry_run_comparison import Change
from screening.engine.dry_run_comparison import Comparison
from screening.engine.dry_run_comparison import RuleRef
from screening.models import BacktestRun
from screening.tuning import dry_run_reports

from .conftest import make_app

VERSION = (
    "INSERT INTO ruleset_version (id, version, sources, activated_at, origin) "
    "VALUES (1, 'sha256:old', '{}', '2026-11-01 10:00:00', 'cli')"
)
RUN = (
    "INSERT INTO backtest_run (id, created_at, created_by, candidate_version, candidate_sources, against_version_id, "
    "status, total, processed, result) VALUES (:id, '2026-11-01 10:00:00', 'cli', 'sha256:new', '{}', 1, :status, "
    "5, 5, :result)"
)


def old_result() -> dict[str, object]:
    """Return a result as runs stored it before 0010: counts and every change in one document."""
    changes = tuple(
        Change(
            reference=f"ABC-{index}",
            submitted_at="2026-10-01T09:30:00+00:00",
            before="counseling",
            after="not_candidate",
            rules_before=(RuleRef("fibromyalgia-counseling", "counseling"),),
            rules_after=(RuleRef("fibromyalgia-counseling", "not_candidate"),),
            facts={"fibromyalgia": True, "diagnoses": ["fibromyalgia"]},
        )
        for index in range(3)
    )
    comparison = Comparison(
        candidate_version="sha256:new",
        against_version="sha256:old",
        outcomes=("candidate", "counseling", "not_candidate"),
        total=5,
        before={"counseling": 4, "candidate": 1},
        after={"not_candidate": 4, "candidate": 1},
        transitions={("counseling", "not_candidate"): 4, ("candidate", "candidate"): 1},
        changed_total=4,
        changes=changes,
    )
    return comparison.as_dict()


def test_stored_changes_move_to_their_rows_and_read_as_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0009")
    engine = make_engine(url)
    before = old_result()
    with engine.begin() as connection:
        connection.execute(sa.text(VERSION))
        connection.execute(sa.text(RUN), {"id": 1, "status": "done", "result": json.dumps(before)})
        connection.execute(sa.text(RUN), {"id": 2, "status": "failed", "result": None})
    command.upgrade(config, "0010")
    with engine.connect() as connection:
        result = json.loads(connection.execute(sa.text("SELECT result FROM backtest_run WHERE id = 1")).scalar_one())
        rows = connection.execute(sa.text("SELECT run_id, position FROM backtest_change ORDER BY position")).all()
    assert "changes" not in result and result["changes_kept"] == 3
    assert [tuple(row) for row in rows] == [(1, 0), (1, 1), (1, 2)]
    app = make_app(url)
    with new_session(app) as session:
        run = session.get_one(BacktestRun, 1)
        found = dry_run_reports.report(session, run)
        page = dry_run_reports.report(session, run, changes=slice(2, 4))
    expected = dry_run_reports.Report.of(Comparison.from_dict(before))
    assert found == expected and found.truncation_note == "Showing the first 3 of 4 changed submissions."
    assert page is not None and page.changes == expected.changes[2:] and page.changes_kept == 3
    command.downgrade(config, "0009")
    with engine.connect() as connection:
        restored = connection.execute(sa.text("SELECT result FROM backtest_run ORDER BY id")).scalars().all()
        assert "backtest_change" not in sa.inspect(connection).get_table_names()
    assert json.loads(restored[0]) == before and restored[1] is None
    engine.dispose()
