"""The tables: saved drafts, stored submissions and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .db import Model


class Draft(Model):
    """An intake in progress, saved after every step and found again by its resume token."""

    __tablename__ = "draft"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    #: sha256 of the resume token; the token itself is never stored.
    token_hash: orm.Mapped[str] = orm.mapped_column(sa.String(64), unique=True)
    created_at: orm.Mapped[datetime]
    updated_at: orm.Mapped[datetime]
    expires_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    #: Per step key: the [name, value] pairs the patient last posted on that step.
    steps: orm.Mapped[dict[str, Any]] = orm.mapped_column(default=dict)
    #: Set the first time PHQ-9 item 9 was answered above 0; never cleared.
    safety_flagged_at: orm.Mapped[datetime | None]


class Submission(Model):
    """A completed intake: the canonical answers document and its scores."""

    __tablename__ = "submission"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    #: The short code the patient is shown and can quote, e.g. "K7M-4QX9".
    reference: orm.Mapped[str] = orm.mapped_column(sa.String(16), unique=True)
    submitted_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    form_version: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    answers: orm.Mapped[dict[str, Any]]
    scores: orm.Mapped[dict[str, Any]]
    #: PHQ-9 item 9 above 0 in the answers, or at any point while the draft was filled in.
    safety_flag: orm.Mapped[bool] = orm.mapped_column(index=True)
    #: The draft this came from; unique, so submitting one draft twice stores one submission.
    draft_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("draft.id", ondelete="SET NULL"), unique=True)


class AuditEvent(Model):
    """Who did what to which record, and when. Holds ids and versions, never answers."""

    __tablename__ = "audit_event"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    #: "patient", "cli", or later "user:<id>".
    actor: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    action: orm.Mapped[str] = orm.mapped_column(sa.String(64), index=True)
    subject_type: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    subject_id: orm.Mapped[int | None]
    remote_addr: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    details: orm.Mapped[dict[str, Any]] = orm.mapped_column(default=dict)


class Decision(Model):
    """The automated outcome of one evaluation of a submission. Never changed; re-evaluation adds a row."""

    __tablename__ = "decision"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    submission_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("submission.id"), index=True)
    created_at: orm.Mapped[datetime]
    outcome: orm.Mapped[str] = orm.mapped_column(sa.String(32), index=True)
    #: Position in the review queue (1 is seen first).
    priority: orm.Mapped[int]
    needs_action: orm.Mapped[bool]
    #: The content hash of the rule set; None when no rule set could be used.
    ruleset_version: orm.Mapped[str | None] = orm.mapped_column(sa.String(71))
    engine_version: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    form_version: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    #: What the patient reads first for this outcome.
    message: orm.Mapped[str] = orm.mapped_column(sa.Text)
    #: Every rule that fired: {"rule", "description", "outcome", "facts": {name: value read}}.
    fired: orm.Mapped[list[Any]] = orm.mapped_column(sa.JSON)
    #: {"rule", "audience", "text"} from every rule that fired.
    notes: orm.Mapped[list[Any]] = orm.mapped_column(sa.JSON)
    facts: orm.Mapped[dict[str, Any]]
    #: For each medication trial: whether it counted toward TRD and why.
    trials: orm.Mapped[list[Any]] = orm.mapped_column(sa.JSON)
    #: Why evaluation failed, when the outcome is the error outcome.
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class RuleSetVersion(Model):
    """A rule set that was activated: its full content, so any worker or host can load it again."""

    __tablename__ = "ruleset_version"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    version: orm.Mapped[str] = orm.mapped_column(sa.String(71), unique=True)
    #: {relative path: file text} of every file in the rule set.
    sources: orm.Mapped[dict[str, Any]]
    activated_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    #: "files" when read from the rules directory.
    origin: orm.Mapped[str] = orm.mapped_column(sa.String(64))


class RulesLoadFailure(Model):
    """Rule files that could not be activated, and why; the last good version stayed active."""

    __tablename__ = "rules_load_failure"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    version: orm.Mapped[str] = orm.mapped_column(sa.String(71), index=True)
    #: Each problem as "file:line:col: rule-id: message", or a failing test case.
    errors: orm.Mapped[list[Any]] = orm.mapped_column(sa.JSON)
    #: host:pid of the process that tried.
    worker: orm.Mapped[str] = orm.mapped_column(sa.String(128))
