"""patient messages: the e-mails that tell a patient of a physician's decision

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "patient_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("review_action_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_action_id"],
            ["review_action.id"],
            name=op.f("fk_patient_message_review_action_id_review_action"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_patient_message_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_message")),
    )
    with op.batch_alter_table("patient_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_message_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_message_submission_id"), ["submission_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_message_submission_id"))
        batch_op.drop_index(batch_op.f("ix_patient_message_status"))
    op.drop_table("patient_message")
