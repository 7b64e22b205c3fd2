"""safety escalation: the kind of an alert, at most one re-alert per submission; a follow-up's contact result

Alerts stored before this revision are the alerts of new safety submissions ("safety"). A partial
unique index lets a submission have any number of those and at most one "escalation", the re-alert
sent when nobody claimed it in time. ``review_action.contact_result`` keeps what came of the contact
attempt a "safety_followup_done" decision records.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

ESCALATION_ONLY = sa.text("kind = 'escalation'")


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="safety", nullable=False))
        batch_op.create_index(
            "uq_alert_escalation",
            ["submission_id"],
            unique=True,
            sqlite_where=ESCALATION_ONLY,
            postgresql_where=ESCALATION_ONLY,
        )

    with op.batch_alter_table("review_action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_result", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_action", schema=None) as batch_op:
        batch_op.drop_column("contact_result")

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_escalation")
        batch_op.drop_column("kind")
