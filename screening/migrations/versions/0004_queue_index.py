"""queue index led by status, and queue columns backfilled

The queue reads open and claimed submissions only. The old index, (needs_action, priority,
submitted_at, id), made every page walk past the decided submissions that share its leading
columns, so pages slowed as decided work piled up. Leading with status makes each status one
contiguous, ordered range: a page is an index seek whatever the number of decided rows.
The second index serves the outcome filter and the counts per outcome the same way.

Submissions stored before the queue columns existed get them from their latest decision, or
the error outcome (manual_review, priority 4, needs action) when they have none, so none is
missing from the queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

QUEUE = ["status", "needs_action", "priority", "submitted_at", "id"]
QUEUE_OUTCOME = ["status", "needs_action", "outcome", "priority", "submitted_at", "id"]
OLD_QUEUE = ["needs_action", "priority", "submitted_at", "id"]
#: What a submission without any decision is, as rules/outcomes.yaml ships the error outcome.
FALLBACK = {"outcome": "manual_review", "priority": 4, "needs_action": True}

submission = sa.table(
    "submission",
    sa.column("id", sa.Integer()),
    sa.column("outcome", sa.String()),
    sa.column("priority", sa.Integer()),
    sa.column("needs_action", sa.Boolean()),
)
decision = sa.table(
    "decision",
    sa.column("id", sa.Integer()),
    sa.column("submission_id", sa.Integer()),
    sa.column("outcome", sa.String()),
    sa.column("priority", sa.Integer()),
    sa.column("needs_action", sa.Boolean()),
)


def upgrade() -> None:
    op.drop_index("ix_submission_queue", table_name="submission")
    op.create_index("ix_submission_queue", "submission", QUEUE, unique=False)
    op.create_index("ix_submission_queue_outcome", "submission", QUEUE_OUTCOME, unique=False)
    _backfill()


def _backfill() -> None:
    """Copy outcome, priority and needs_action from each incomplete submission's latest decision."""
    incomplete = sa.or_(submission.c.outcome.is_(None), submission.c.priority.is_(None))

    def from_latest(column: str) -> sa.ScalarSelect[object]:
        """Return the column of the submission's newest decision, as a correlated subquery."""
        return (
            sa.select(decision.c[column])
            .where(decision.c.submission_id == submission.c.id)
            .order_by(decision.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    has_decision = sa.exists().where(decision.c.submission_id == submission.c.id)
    op.execute(
        submission.update()
        .where(incomplete, has_decision)
        .values(
            outcome=from_latest("outcome"),
            priority=from_latest("priority"),
            needs_action=from_latest("needs_action"),
        )
    )
    op.execute(submission.update().where(incomplete).values(**FALLBACK))


def downgrade() -> None:
    op.drop_index("ix_submission_queue_outcome", table_name="submission")
    op.drop_index("ix_submission_queue", table_name="submission")
    op.create_index("ix_submission_queue", "submission", OLD_QUEUE, unique=False)
