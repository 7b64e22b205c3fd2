"""review: users, review actions, alerts, queue columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 07:01:42.814362
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"], name=op.f("fk_alert_submission_id_submission")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_submission_id"), ["submission_id"], unique=False)

    op.create_table(
        "review_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_for_patient", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_review_action_actor_id_user_account")),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_review_action_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_action")),
    )
    with op.batch_alter_table("review_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_action_submission_id"), ["submission_id"], unique=False)

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("needs_action", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(batch_op.f("ix_submission_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_submission_outcome"), ["outcome"], unique=False)
        batch_op.create_index("ix_submission_queue", ["needs_action", "priority", "submitted_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_submission_status"), ["status"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_submission_status_token_hash"), ["status_token_hash"])
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_assignee_id_user_account"), "user_account", ["assignee_id"], ["id"]
        )


def downgrade() -> None:

    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_submission_assignee_id_user_account"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_submission_status_token_hash"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_submission_status"))
        batch_op.drop_index("ix_submission_queue")
        batch_op.drop_index(batch_op.f("ix_submission_outcome"))
        batch_op.drop_index(batch_op.f("ix_submission_assignee_id"))
        batch_op.drop_column("row_version")
        batch_op.drop_column("status_token_hash")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("status")
        batch_op.drop_column("needs_action")
        batch_op.drop_column("priority")
        batch_op.drop_column("outcome")

    with op.batch_alter_table("review_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_action_submission_id"))

    op.drop_table("review_action")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_submission_id"))
        batch_op.drop_index(batch_op.f("ix_alert_status"))

    op.drop_table("alert")
    op.drop_table("user_account")
