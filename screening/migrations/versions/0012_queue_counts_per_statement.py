"""queue counts per statement: on PostgreSQL the triggers of 0009 add up each statement's rows at once

Kept row by row, a statement that inserts or changes many submissions wrote each count row once per submission.
On PostgreSQL every such write leaves a row version that the open transaction cannot clean up, so one long
transaction (seeding 100,000 fake submissions) grew slower with every row. The triggers now run once per
statement: they read the statement's old and new rows (transition tables), add up the change per (needs_action,
outcome), and write a count row only where its total changes. SQLite keeps no row versions: its row triggers stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:40:00.000000
"""

from __future__ import annotations

import importlib

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

#: The row triggers this revision replaces, and restores on downgrade.
_ROW_TRIGGERS = importlib.import_module("screening.migrations.versions.0009_queue_counts")

OPEN = "('open', 'claimed')"
#: The change of a statement's rows to the counts: +1 per new counted row, -1 per old one, by list and outcome.
DELTA = """
    SELECT needs_action, outcome, sum(change) AS change FROM (
        {rows}
    ) AS changes GROUP BY needs_action, outcome HAVING sum(change) <> 0
"""
COUNTED = "SELECT needs_action, COALESCE(outcome, '') AS outcome, {sign} AS change FROM {table} WHERE status IN " + OPEN
NEW_ROWS = COUNTED.format(sign=1, table="new_rows")
OLD_ROWS = COUNTED.format(sign=-1, table="old_rows")
APPLY = (
    "INSERT INTO queue_count (needs_action, outcome, total) SELECT needs_action, outcome, change FROM ({delta}) AS d "
    "ON CONFLICT (needs_action, outcome) DO UPDATE SET total = queue_count.total + EXCLUDED.total"
)
FUNCTION = f"""
CREATE FUNCTION queue_count_follow_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {APPLY.format(delta=DELTA.format(rows=NEW_ROWS))};
    ELSIF TG_OP = 'DELETE' THEN
        {APPLY.format(delta=DELTA.format(rows=OLD_ROWS))};
    ELSE
        {APPLY.format(delta=DELTA.format(rows=NEW_ROWS + " UNION ALL " + OLD_ROWS))};
    END IF;
    RETURN NULL;
END
$$
"""
#: Transition tables cannot go with a column list: the update trigger runs for every UPDATE statement and
#: writes nothing when no count changes (claiming, releasing, a note).
TRIGGERS = {
    "queue_count_insert": "AFTER INSERT ON submission REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    "queue_count_delete": "AFTER DELETE ON submission REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
    "queue_count_update": (
        "AFTER UPDATE ON submission REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    ),
}


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute("LOCK TABLE submission IN SHARE ROW EXCLUSIVE MODE")  # no change slips between the two sets
    _drop_triggers()
    op.execute("DROP FUNCTION queue_count_follow()")
    op.execute(FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION queue_count_follow_statement()")


def downgrade() -> None:
    if not _postgresql():
        return
    op.execute("LOCK TABLE submission IN SHARE ROW EXCLUSIVE MODE")
    _drop_triggers()
    op.execute("DROP FUNCTION queue_count_follow_statement()")
    op.execute(_ROW_TRIGGERS.POSTGRESQL_FUNCTION)
    for name, when in _ROW_TRIGGERS.POSTGRESQL_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION queue_count_follow()")


def _drop_triggers() -> None:
    """Drop the three count triggers on ``submission`` (both revisions name them alike)."""
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON submission")


def _postgresql() -> bool:
    """Return True when migrating a PostgreSQL database."""
    return op.get_bind().dialect.name == "postgresql"
