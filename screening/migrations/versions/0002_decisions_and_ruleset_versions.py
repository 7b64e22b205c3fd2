"""decisions and rule set versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:39:53.774197
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rules_load_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(length=71), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules_load_failure")),
    )
    with op.batch_alter_table("rules_load_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rules_load_failure_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rules_load_failure_version"), ["version"], unique=False)

    op.create_table(
        "ruleset_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=71), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_version")),
        sa.UniqueConstraint("version", name=op.f("uq_ruleset_version_version")),
    )
    with op.batch_alter_table("ruleset_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ruleset_version_activated_at"), ["activated_at"], unique=False)

    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("needs_action", sa.Boolean(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=71), nullable=True),
        sa.Column("engine_version", sa.String(length=80), nullable=False),
        sa.Column("form_version", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("trials", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_decision_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_submission_id"), ["submission_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_submission_id"))
        batch_op.drop_index(batch_op.f("ix_decision_outcome"))

    op.drop_table("decision")
    with op.batch_alter_table("ruleset_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ruleset_version_activated_at"))

    op.drop_table("ruleset_version")
    with op.batch_alter_table("rules_load_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rules_load_failure_version"))
        batch_op.drop_index(batch_op.f("ix_rules_load_failure_at"))

    op.drop_table("rules_load_failure")
