"""backtest changes: a dry run's changed submissions stored one row each, apart from its counts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:30:00.000000

The stored runs are moved over: the changes leave ``backtest_run.result`` (which keeps the counts and
gains ``changes_kept``) for ``backtest_change`` rows in the same order; downgrading puts them back.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

RUNS = sa.table("backtest_run", sa.column("id", sa.Integer()), sa.column("result", sa.JSON()))
CHANGES = sa.table(
    "backtest_change",
    sa.column("run_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("change", sa.JSON()),
)
#: Changes inserted per statement while moving a run over.
BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "backtest_change",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("change", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["backtest_run.id"], name=op.f("fk_backtest_change_run_id_backtest_run")),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_backtest_change")),
    )
    connection = op.get_bind()
    for run_id in _run_ids(connection):
        result = _result(connection, run_id)
        if result is None or "changes" not in result:
            continue
        changes: list[Any] = result.pop("changes")
        rows = [{"run_id": run_id, "position": position, "change": change} for position, change in enumerate(changes)]
        for start in range(0, len(rows), BATCH):
            connection.execute(CHANGES.insert(), rows[start : start + BATCH])
        connection.execute(
            RUNS.update().where(RUNS.c.id == run_id).values(result={**result, "changes_kept": len(rows)})
        )


def downgrade() -> None:
    connection = op.get_bind()
    for run_id in _run_ids(connection):
        result = _result(connection, run_id)
        if result is None or "changes_kept" not in result:
            continue
        changes = connection.execute(
            sa.select(CHANGES.c.change).where(CHANGES.c.run_id == run_id).order_by(CHANGES.c.position)
        ).scalars()
        result.pop("changes_kept")
        connection.execute(RUNS.update().where(RUNS.c.id == run_id).values(result={**result, "changes": list(changes)}))
    op.drop_table("backtest_change")


def _run_ids(connection: sa.Connection) -> list[int]:
    """Return the ids of the stored runs that have a result."""
    return list(connection.execute(sa.select(RUNS.c.id).where(RUNS.c.result.is_not(None))).scalars())


def _result(connection: sa.Connection, run_id: int) -> dict[str, Any] | None:
    """Return one run's stored result (read one at a time: each can be megabytes)."""
    found = connection.execute(sa.select(RUNS.c.result).where(RUNS.c.id == run_id)).scalar()
    return dict(found) if isinstance(found, dict) else None
