"""rule tuning: drafts, activations, workers, backtests

The database becomes where the active rule set lives: every switch adds a ruleset_activation row
and the newest names the version all workers load. Versions stored before this revision get one
activation each, oldest first, so the newest of them stays active.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:21:08.430914
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rules_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(length=71), nullable=True),
        sa.Column("loaded_at", sa.DateTime(), nullable=True),
        sa.Column("files_state", sa.String(length=16), nullable=False),
        sa.Column("files_version", sa.String(length=71), nullable=True),
        sa.Column("failure_at", sa.DateTime(), nullable=True),
        sa.Column("failure_version", sa.String(length=71), nullable=True),
        sa.Column("failure_errors", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules_worker")),
        sa.UniqueConstraint("name", name=op.f("uq_rules_worker_name")),
    )
    with op.batch_alter_table("rules_worker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rules_worker_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "rule_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.Column("editor_ids", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("published_version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["base_version_id"], ["ruleset_version.id"], name=op.f("fk_rule_draft_base_version_id_ruleset_version")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_rule_draft_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["published_version_id"],
            ["ruleset_version.id"],
            name=op.f("fk_rule_draft_published_version_id_ruleset_version"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["user_account.id"], name=op.f("fk_rule_draft_reviewed_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["user_account.id"], name=op.f("fk_rule_draft_submitted_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["user_account.id"], name=op.f("fk_rule_draft_updated_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_draft")),
    )
    with op.batch_alter_table("rule_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_draft_status"), ["status"], unique=False)

    op.create_table(
        "backtest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("candidate_version", sa.String(length=71), nullable=False),
        sa.Column("candidate_sources", sa.JSON(), nullable=False),
        sa.Column("against_version_id", sa.Integer(), nullable=False),
        sa.Column("submitted_from", sa.DateTime(), nullable=True),
        sa.Column("submitted_to", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("progress_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["against_version_id"],
            ["ruleset_version.id"],
            name=op.f("fk_backtest_run_against_version_id_ruleset_version"),
        ),
        sa.ForeignKeyConstraint(["draft_id"], ["rule_draft.id"], name=op.f("fk_backtest_run_draft_id_rule_draft")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_run")),
    )
    with op.batch_alter_table("backtest_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backtest_run_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_backtest_run_draft_id"), ["draft_id"], unique=False)

    op.create_table(
        "ruleset_activation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["rule_draft.id"], name=op.f("fk_ruleset_activation_draft_id_rule_draft")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["ruleset_activation.id"],
            name=op.f("fk_ruleset_activation_replaces_id_ruleset_activation"),
        ),
        sa.UniqueConstraint("replaces_id", name=op.f("uq_ruleset_activation_replaces_id")),
        sa.ForeignKeyConstraint(
            ["version_id"], ["ruleset_version.id"], name=op.f("fk_ruleset_activation_version_id_ruleset_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_activation")),
    )
    with op.batch_alter_table("ruleset_activation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ruleset_activation_version_id"), ["version_id"], unique=False)

    versions = sa.table("ruleset_version", sa.column("id", sa.Integer()), sa.column("activated_at", sa.DateTime()))
    activations = sa.table(
        "ruleset_activation",
        sa.column("version_id", sa.Integer()),
        sa.column("at", sa.DateTime()),
        sa.column("kind", sa.String()),
        sa.column("actor", sa.String()),
    )
    op.execute(
        activations.insert().from_select(
            ["version_id", "at", "kind", "actor"],
            sa.select(versions.c.id, versions.c.activated_at, sa.literal("bootstrap"), sa.literal("system")).order_by(
                versions.c.activated_at, versions.c.id
            ),
        )
    )
    # Each backfilled activation replaced the one before it.
    op.execute(
        "UPDATE ruleset_activation SET replaces_id = "
        "(SELECT MAX(earlier.id) FROM ruleset_activation AS earlier WHERE earlier.id < ruleset_activation.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ruleset_activation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ruleset_activation_version_id"))

    op.drop_table("ruleset_activation")
    with op.batch_alter_table("backtest_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backtest_run_draft_id"))
        batch_op.drop_index(batch_op.f("ix_backtest_run_created_at"))

    op.drop_table("backtest_run")
    with op.batch_alter_table("rule_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_draft_status"))

    op.drop_table("rule_draft")
    with op.batch_alter_table("rules_worker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rules_worker_seen_at"))

    op.drop_table("rules_worker")
