"""queue counts: the open and claimed submissions per (needs_action, outcome), kept by triggers

The queue page showed its counts per outcome by counting every open and claimed submission on
every view, so the page slowed as the queue grew. ``queue_count`` holds those counts, and triggers
on ``submission`` keep them in step in the transaction of each insert, delete, or change of status,
outcome or needs_action: whatever code makes the change (the intake, the review actions, a
re-evaluation, seeding, a bulk UPDATE), and a rollback takes the change back with it. Claiming,
releasing and taking over leave a submission open, so they touch no count. A submission without an
outcome counts under "". The counts start from the submissions stored at upgrade.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

OPEN = "('open', 'claimed')"
COUNTED_OLD = f"OLD.status IN {OPEN}"
COUNTED_NEW = f"NEW.status IN {OPEN}"
#: A change the counts must follow: in or out of the open work, or a counted one changing list or outcome.
UPDATE_MATTERS = (
    f"({COUNTED_OLD}) IS NOT ({COUNTED_NEW}) OR (({COUNTED_NEW}) AND "
    "(OLD.needs_action IS NOT NEW.needs_action OR OLD.outcome IS NOT NEW.outcome))"
)
INCREMENT = (
    "INSERT INTO queue_count (needs_action, outcome, total) "
    "SELECT NEW.needs_action, COALESCE(NEW.outcome, ''), 1 WHERE {when} "
    "ON CONFLICT (needs_action, outcome) DO UPDATE SET total = queue_count.total + 1"
)
DECREMENT = (
    "UPDATE queue_count SET total = total - 1 "
    "WHERE {when} AND needs_action = OLD.needs_action AND outcome = COALESCE(OLD.outcome, '')"
)
SQLITE_TRIGGERS = {
    "queue_count_insert": f"AFTER INSERT ON submission WHEN {COUNTED_NEW} BEGIN {INCREMENT.format(when='1')}; END",
    "queue_count_delete": f"AFTER DELETE ON submission WHEN {COUNTED_OLD} BEGIN {DECREMENT.format(when='1')}; END",
    "queue_count_update": (
        f"AFTER UPDATE OF status, needs_action, outcome ON submission WHEN {UPDATE_MATTERS} BEGIN "
        f"{DECREMENT.format(when=COUNTED_OLD)}; {INCREMENT.format(when=COUNTED_NEW)}; END"
    ),
}
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION queue_count_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {DECREMENT.format(when=COUNTED_OLD)};
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {INCREMENT.format(when=COUNTED_NEW)};
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = {
    "queue_count_insert": f"AFTER INSERT ON submission FOR EACH ROW WHEN ({COUNTED_NEW})",
    "queue_count_delete": f"AFTER DELETE ON submission FOR EACH ROW WHEN ({COUNTED_OLD})",
    "queue_count_update": (
        "AFTER UPDATE OF status, needs_action, outcome ON submission FOR EACH ROW "
        f"WHEN ({UPDATE_MATTERS.replace(' IS NOT ', ' IS DISTINCT FROM ')})"
    ),
}
RECOUNT = (
    "INSERT INTO queue_count (needs_action, outcome, total) "
    f"SELECT needs_action, COALESCE(outcome, ''), count(*) FROM submission WHERE status IN {OPEN} "
    "GROUP BY needs_action, COALESCE(outcome, '')"
)


def upgrade() -> None:
    op.create_table(
        "queue_count",
        sa.Column("needs_action", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("needs_action", "outcome", name=op.f("pk_queue_count")),
    )
    if _postgresql():
        op.execute("LOCK TABLE submission IN SHARE ROW EXCLUSIVE MODE")  # no change slips between count and triggers
        op.execute(POSTGRESQL_FUNCTION)
        for name, when in POSTGRESQL_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION queue_count_follow()")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(RECOUNT)


def downgrade() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON submission" if _postgresql() else ""))
    if _postgresql():
        op.execute("DROP FUNCTION IF EXISTS queue_count_follow()")
    op.drop_table("queue_count")


def _postgresql() -> bool:
    """Return True when migrating a PostgreSQL database."""
    return op.get_bind().dialect.name == "postgresql"
