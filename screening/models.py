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
    #: The part of the answers document of every step whose pairs are valid, and the form version they were
    #: validated under: ``{"form_version": ..., "steps": {key: answers}}`` (``intake.steps.kept_answers``).
    answers: orm.Mapped[dict[str, Any] | None]
    #: Set the first time PHQ-9 item 9 was answered above 0; never cleared.
    safety_flagged_at: orm.Mapped[datetime | None]
    #: The contact step's posted pairs, encrypted (``contacts.crypto``): never in ``steps`` in clear text.
    contact_sealed: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    #: Whether a submission was made from it. Deferred: ``intake.service.find_draft`` reads it with the draft.
    submitted: orm.Mapped[bool] = orm.column_property(
        sa.exists().where(sa.table("submission", sa.column("draft_id")).c.draft_id == id), deferred=True
    )


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
    #: Copied from the newest automated decision, so the review queue is one indexed query.
    outcome: orm.Mapped[str | None] = orm.mapped_column(sa.String(32), index=True)
    priority: orm.Mapped[int | None]
    needs_action: orm.Mapped[bool] = orm.mapped_column(default=True)
    #: Where the review stands: "open", "claimed" or "decided".
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="open", index=True)
    assignee_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("user_account.id"), index=True)
    #: sha256 of the token in the patient's private status link.
    status_token_hash: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), unique=True)
    #: Bumped on every change, so two physicians acting at once cannot both win.
    row_version: orm.Mapped[int] = orm.mapped_column(default=1)
    #: Facts the rules read that are not answers, e.g. {"in_service_area": true}: never contact details themselves.
    context_facts: orm.Mapped[dict[str, Any]] = orm.mapped_column(default=dict)

    #: Each status is one ordered range of the queue index, so a page of open work is an index seek however
    #: many submissions are decided; the second index does the same for the outcome filter.
    __table_args__ = (
        sa.Index("ix_submission_queue", "status", "needs_action", "priority", "submitted_at", "id"),
        sa.Index("ix_submission_queue_outcome", "status", "needs_action", "outcome", "priority", "submitted_at", "id"),
    )
    __mapper_args__ = {"version_id_col": row_version}


class QueueCount(Model):
    """How many open or claimed submissions each (list, outcome) has: what the queue page shows.

    Kept in step by database triggers on ``submission`` (migration 0009), in the transaction of the
    change, whatever code makes it; so the page reads a handful of rows instead of counting the queue.
    A submission without an outcome counts under "".
    """

    __tablename__ = "queue_count"

    needs_action: orm.Mapped[bool] = orm.mapped_column(primary_key=True)
    outcome: orm.Mapped[str] = orm.mapped_column(sa.String(32), primary_key=True)
    total: orm.Mapped[int]


class SubmissionContact(Model):
    """How the clinic may reach the patient of one submission: encrypted, apart from the answers."""

    __tablename__ = "submission_contact"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    submission_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("submission.id", ondelete="CASCADE"), unique=True)
    #: ``ContactDetails`` as JSON, encrypted with Fernet (``contacts.crypto``).
    ciphertext: orm.Mapped[str] = orm.mapped_column(sa.Text)
    #: Short name of the key it was encrypted with; None when not known (rotation then re-encrypts it).
    key_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(16), index=True)
    created_at: orm.Mapped[datetime]


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
    #: When the version was first stored (published, or bootstrapped from the files).
    activated_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    #: "files" when read from the rules directory, "draft" when published from a draft.
    origin: orm.Mapped[str] = orm.mapped_column(sa.String(64))


class RuleSetActivation(Model):
    """One switch of the active rule set; the newest row names the version every worker uses.

    Rows are only added: a publish, a roll-back or the first start from the files each adds one,
    so the table is also the history of what was active when.
    """

    __tablename__ = "ruleset_activation"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    version_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("ruleset_version.id"), index=True)
    at: orm.Mapped[datetime]
    #: "bootstrap" (first start from the files), "publish" or "rollback".
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    #: Who activated it ("user:<id>", "system"), and who approved it under the two-person rule.
    actor: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    approved_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    draft_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("rule_draft.id"))
    #: The activation this one replaced. Unique: of two switches made at the same moment from the same
    #: active version, the database keeps one and refuses the other, so neither silently undoes the other.
    replaces_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("ruleset_activation.id"), unique=True)


class RuleDraft(Model):
    """A rule set being edited by staff: the full text of every file, until it is published.

    ``revision`` grows with every save; a save names the text it started from, so an edit made
    over somebody else's newer save is refused instead of lost.
    """

    __tablename__ = "rule_draft"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    title: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    #: The stored version the draft started from (the active one at the time).
    base_version_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("ruleset_version.id"))
    #: {relative path: file text}, like RuleSetVersion.sources.
    sources: orm.Mapped[dict[str, Any]]
    #: "editing", "submitted", "published" or "discarded".
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    #: "browser", or "files" when ``rules publish`` submitted the files on disk.
    origin: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="browser")
    revision: orm.Mapped[int] = orm.mapped_column(default=1)
    created_at: orm.Mapped[datetime]
    created_by_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: orm.Mapped[datetime]
    updated_by_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("user_account.id"))
    #: Ids of every user who saved a change: none of them may approve the draft.
    editor_ids: orm.Mapped[list[Any]] = orm.mapped_column(sa.JSON, default=list)
    submitted_at: orm.Mapped[datetime | None]
    submitted_by_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("user_account.id"))
    reviewed_at: orm.Mapped[datetime | None]
    reviewed_by_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("user_account.id"))
    #: Why a reviewer sent the draft back (about the rules, never about a patient).
    review_note: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    published_version_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("ruleset_version.id"))


class RulesWorker(Model):
    """What one running process decides with, and its last failed reload: the rules home shows each."""

    __tablename__ = "rules_worker"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    #: host:pid and start time of the process.
    name: orm.Mapped[str] = orm.mapped_column(sa.String(160), unique=True)
    started_at: orm.Mapped[datetime]
    seen_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    version: orm.Mapped[str | None] = orm.mapped_column(sa.String(71))
    loaded_at: orm.Mapped[datetime | None]
    #: The files in the rules directory of this process: "active" (same as the active version),
    #: "unpublished" (valid, different), "invalid" or "missing".
    files_state: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="missing")
    files_version: orm.Mapped[str | None] = orm.mapped_column(sa.String(71))
    failure_at: orm.Mapped[datetime | None]
    failure_version: orm.Mapped[str | None] = orm.mapped_column(sa.String(71))
    failure_errors: orm.Mapped[list[Any] | None] = orm.mapped_column(sa.JSON)


class BacktestRun(Model):
    """A dry run: a candidate rule set evaluated against stored submissions, compared with another version.

    The candidate's files are copied in, so later edits of the draft do not change a finished run.
    ``result`` holds counts and transitions; ``BacktestChange`` the changed submissions (references,
    rules and facts: never answers or free text).
    """

    __tablename__ = "backtest_run"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    created_at: orm.Mapped[datetime] = orm.mapped_column(index=True)
    created_by: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    draft_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("rule_draft.id"), index=True)
    candidate_version: orm.Mapped[str] = orm.mapped_column(sa.String(71))
    candidate_sources: orm.Mapped[dict[str, Any]]
    against_version_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("ruleset_version.id"))
    submitted_from: orm.Mapped[datetime | None]
    submitted_to: orm.Mapped[datetime | None]
    #: "queued", "running", "done" or "failed".
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="queued")
    total: orm.Mapped[int] = orm.mapped_column(default=0)
    processed: orm.Mapped[int] = orm.mapped_column(default=0)
    started_at: orm.Mapped[datetime | None]
    #: When ``processed`` last moved: a run that stops moving was interrupted.
    progress_at: orm.Mapped[datetime | None]
    finished_at: orm.Mapped[datetime | None]
    #: The counts and transitions (``Comparison.as_dict`` without its changes, with ``changes_kept``).
    result: orm.Mapped[dict[str, Any] | None]
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class BacktestChange(Model):
    """One changed submission of a finished dry run, in the run's order: a page reads only its own."""

    __tablename__ = "backtest_change"

    run_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("backtest_run.id"), primary_key=True)
    #: 0 for the first change of the run.
    position: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
    #: ``Change.as_dict``: the reference, outcomes, rules and facts (never answers or free text).
    change: orm.Mapped[dict[str, Any]]


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


class User(Model):
    """A clinic user: a physician, a staff member or an admin. Patients have no accounts."""

    __tablename__ = "user_account"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    #: Stored lower-case.
    email: orm.Mapped[str] = orm.mapped_column(sa.String(254), unique=True)
    password_hash: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    #: "physician", "staff" or "admin".
    role: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    disabled: orm.Mapped[bool] = orm.mapped_column(default=False)
    created_at: orm.Mapped[datetime]
    #: Bumped when the user is disabled or changes role: every session holding the old value ends.
    session_version: orm.Mapped[int] = orm.mapped_column(default=1)
    failed_logins: orm.Mapped[int] = orm.mapped_column(default=0)
    locked_until: orm.Mapped[datetime | None]
    last_login_at: orm.Mapped[datetime | None]


class ReviewAction(Model):
    """A physician's action on a submission: claim, release, take over, decide or reopen. Never changed."""

    __tablename__ = "review_action"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    submission_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("submission.id"), index=True)
    actor_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("user_account.id"))
    at: orm.Mapped[datetime]
    action: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    #: For "decide": "consult", "decline", "request_info" or "safety_followup_done".
    decision: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    note: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    #: The note may be shown on the patient's status page.
    note_for_patient: orm.Mapped[bool] = orm.mapped_column(default=False)
    #: For "safety_followup_done": what came of the contact attempt, a code of ``review.service.CONTACT_RESULTS``.
    contact_result: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))


#: Of an alert's kinds, the one a submission may have at most once.
ESCALATION_ONLY = sa.text("kind = 'escalation'")


class PatientMessage(Model):
    """An e-mail to the patient about a physician's decision, sent by a task and retried when it fails.

    The patient's address is not kept here: the sender looks it up in the contact details at each attempt,
    so a patient who gave none, or whose details were deleted, is never written to.
    """

    __tablename__ = "patient_message"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    submission_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("submission.id"), index=True)
    #: The physician's decision that the message tells the patient about.
    review_action_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("review_action.id"))
    #: "consult", "decline" or "request_info".
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    #: "queued", "sent", "failed" (retried while attempts remain), "not_sent" (no e-mail given with consent) or
    #: "withdrawn" (the decision was reopened before the message went out).
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    attempts: orm.Mapped[int] = orm.mapped_column(default=0)
    #: Why the last attempt failed, in a few words: never the address or the text of the message.
    last_error: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    created_at: orm.Mapped[datetime]
    sent_at: orm.Mapped[datetime | None]


class Alert(Model):
    """An urgent e-mail about a safety submission: sent at once, retried when it fails."""

    __tablename__ = "alert"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    submission_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("submission.id"), index=True)
    created_at: orm.Mapped[datetime]
    #: "safety" (the alert of a new safety submission) or "escalation" (the re-alert when nobody claimed it in time).
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="safety", server_default="safety")
    #: "pending", "sent" or "failed" (failed stays retried until its attempts run out).
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    attempts: orm.Mapped[int] = orm.mapped_column(default=0)
    sent_at: orm.Mapped[datetime | None]
    #: The last SMTP error, without any answers.
    last_error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)

    #: One re-alert per submission at most, even when two alert consumers escalate at the same moment.
    __table_args__ = (
        sa.Index(
            "uq_alert_escalation",
            "submission_id",
            unique=True,
            sqlite_where=ESCALATION_ONLY,
            postgresql_where=ESCALATION_ONLY,
        ),
    )
