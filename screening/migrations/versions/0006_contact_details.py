"""contact details: their own encrypted table, the draft's sealed contact step, the submission's context facts

Contact details never join the answers: ``submission_contact`` holds them encrypted, one row per submission;
a draft keeps the contact step encrypted in ``contact_sealed``; ``context_facts`` holds what the rules read
that is not an answer (``in_service_area``). Submissions stored before this revision get no context facts,
which the rules read as in the service area.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "submission_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_submission_contact_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_contact")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_submission_contact_submission_id")),
    )
    with op.batch_alter_table("submission_contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submission_contact_key_id"), ["key_id"], unique=False)

    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_sealed", sa.Text(), nullable=True))

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context_facts", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("context_facts")

    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("contact_sealed")

    with op.batch_alter_table("submission_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_contact_key_id"))

    op.drop_table("submission_contact")
