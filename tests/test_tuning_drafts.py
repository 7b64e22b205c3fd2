"""The drafts service: edit, check, submit, approve by a second person, publish, roll back, all audited."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from screening.admin.audit_log import KNOWN_ACTIONS
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import RuleDraft
from screening.models import RuleSetActivation
from screening.models import User
from screening.active_rules import store
from screening.engine.loader import read_sources
from screening.engine.loader import version_of
from screening.tuning import checks
from screening.tuning import drafts
from screening.tuning import publishing
from screening.tuning.reviewed import draft_version
from screening.tuning.reviewed import record_refused_approval
from screening.tuning.errors import ReviewOutdated
from screening.tuning.errors import TuningConflict
from screening.tuning.errors import TuningForbidden
from screening.tuning.errors import TuningInvalid
from screening.tuning.errors import TuningNotFound

from .accounts import Users
from .ruleset_files import RULES
from .ruleset_files import copy_rules

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SHIPPED = read_sources(RULES)
WORDING = ("flags.yaml", "Aged 65 or over: less data", "Aged 65 or over: fewer data")


@dataclass
class People:
    """The clinic users of a test: two staff members, a physician and two administrators."""

    author: User
    colleague: User
    physician: User
    admin: User
    other_admin: User


@pytest.fixture()
def people(app: Flask, users: Users) -> People:
    """Activate the shipped rules as on the first start and return the users who tune them."""
    with new_session(app) as session:
        stored = store.store_version(session, SHIPPED, origin="files", now=NOW)
        store.activate(session, stored, kind=store.BOOTSTRAP, actor="system", now=NOW)
        session.commit()
    return People(
        author=users.create("staff"),
        colleague=users.create("staff"),
        physician=users.create("physician"),
        admin=users.create("admin"),
        other_admin=users.create("admin"),
    )


@pytest.fixture()
def session(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the app's database, closed after the test."""
    with new_session(app) as opened:
        yield opened


def as_user(session: orm.Session, user: User) -> User:
    """Return ``user`` as loaded in ``session``."""
    found = session.get(User, user.id)
    assert found is not None
    return found


def approve_as(session: orm.Session, draft: RuleDraft, approver: User) -> publishing.Published:
    """Approve ``draft`` with the two-person rule as ``approver``, naming the version of its current text."""
    return publishing.approve(
        session, draft, user=as_user(session, approver), now=NOW, two_person=True, reviewed=draft_version(draft)
    )


def new_draft(session: orm.Session, author: User, title: str = "Clearer wording") -> RuleDraft:
    """Start a draft from the active version as ``author``."""
    return drafts.start_draft(session, title=title, user=as_user(session, author), now=NOW)


def change(session: orm.Session, draft: RuleDraft, user: User, name: str, old: str, new: str) -> None:
    """Save ``name`` with ``old`` replaced by ``new``, as ``user`` who opened its current text."""
    text = draft.sources[name]
    assert old in text, f"{old!r} not in {name}"
    drafts.save_file(
        session,
        draft,
        name=name,
        text=text.replace(old, new, 1),
        started_from=drafts.digest(text),
        user=as_user(session, user),
        now=NOW,
    )


def submitted(session: orm.Session, people: People, edit: tuple[str, str, str] = WORDING) -> RuleDraft:
    """Return a draft by the author with one edit, submitted for approval."""
    draft = new_draft(session, people.author)
    change(session, draft, people.author, *edit)
    drafts.submit(session, draft, user=as_user(session, people.author), now=NOW)
    return draft


def active_version(session: orm.Session) -> str:
    """Return the active version's hash."""
    current = store.active(session)
    assert current is not None
    return current.version.version


def events(session: orm.Session, action: str | None = None) -> list[AuditEvent]:
    """Return the audit events (of one action), oldest first."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def position(text: str, needle: str) -> tuple[int, int]:
    """Return the 1-based line and column of ``needle`` in ``text``."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def shifted_priorities(text: str) -> str:
    """Return outcomes.yaml with every queue priority one later: it loads, but moves the safety outcome."""
    return re.sub(r"priority: (\d+)", lambda found: f"priority: {int(found.group(1)) + 1}", text)


# --- Starting and saving ------------------------------------------------------------------------------


def test_a_draft_starts_from_the_active_version_and_is_audited(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author, title="  Clearer   wording ")
    current = store.active(session)
    assert current is not None
    assert draft.sources == SHIPPED and draft.base_version_id == current.version.id
    assert (draft.title, draft.status, draft.origin, draft.revision) == ("Clearer wording", "editing", "browser", 1)
    assert draft.editor_ids == [people.author.id] and draft.created_by_id == people.author.id
    [event] = events(session, "ruleset.draft_created")
    assert (event.actor, event.subject_type, event.subject_id) == (f"user:{people.author.id}", "rule_draft", draft.id)
    assert event.details == {"base": current.version.version}


def test_only_staff_and_admins_start_drafts_and_a_title_is_needed(session: orm.Session, people: People) -> None:
    with pytest.raises(TuningForbidden):
        new_draft(session, people.physician)
    with pytest.raises(TuningInvalid):
        new_draft(session, people.author, title="   ")
    with pytest.raises(TuningInvalid):
        new_draft(session, people.author, title="x" * (drafts.TITLE_MAX + 1))
    assert new_draft(session, people.admin).status == drafts.EDITING


def test_no_draft_starts_before_a_rule_set_is_active(app: Flask, users: Users) -> None:
    author = users.create("staff")
    with new_session(app) as session, pytest.raises(TuningConflict, match="No rule set is active"):
        new_draft(session, author)


def test_a_save_stores_the_text_and_counts_the_revision(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    name, old, new = WORDING
    text = draft.sources[name]
    drafts.save_file(
        session,
        draft,
        name=name,
        text=text.replace(old, new).replace("\n", "\r\n") + "\n\n",
        started_from=drafts.digest(text),
        user=as_user(session, people.colleague),
        now=NOW,
    )
    assert draft.sources[name] == text.replace(old, new)  # Unix line ends, one final newline
    assert draft.revision == 2 and draft.updated_by_id == people.colleague.id
    assert draft.editor_ids == sorted([people.author.id, people.colleague.id])
    [event] = events(session, "ruleset.draft_saved")
    assert event.actor == f"user:{people.colleague.id}" and event.details == {"file": name, "revision": 2}


def test_a_save_over_a_newer_save_is_refused_and_the_first_save_is_kept(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    name, old, _ = WORDING
    opened = draft.sources[name]  # both open the same text
    first = opened.replace(old, "Aged 65 or over: first save")
    drafts.save_file(
        session,
        draft,
        name=name,
        text=first,
        started_from=drafts.digest(opened),
        user=as_user(session, people.colleague),
        now=NOW,
    )
    with pytest.raises(TuningConflict) as refused:
        drafts.save_file(
            session,
            draft,
            name=name,
            text=opened.replace(old, "Aged 65 or over: second save"),
            started_from=drafts.digest(opened),
            user=as_user(session, people.author),
            now=NOW,
        )
    assert people.colleague.email in refused.value.message
    session.refresh(draft)
    assert draft.sources[name] == first and draft.revision == 2
    assert len(events(session, "ruleset.draft_saved")) == 1


def test_files_are_created_and_removed_and_bad_names_refused(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    author = as_user(session, people.author)
    drafts.save_file(session, draft, name="extra.yaml", text="rules: []", started_from=None, user=author, now=NOW)
    assert draft.sources["extra.yaml"] == "rules: []\n"
    with pytest.raises(TuningConflict, match="already exists"):
        drafts.save_file(session, draft, name="extra.yaml", text="rules: []", started_from=None, user=author, now=NOW)
    with pytest.raises(TuningConflict):
        drafts.remove_file(
            session, draft, name="extra.yaml", started_from=drafts.digest("other\n"), user=author, now=NOW
        )
    drafts.remove_file(
        session, draft, name="extra.yaml", started_from=drafts.digest("rules: []\n"), user=author, now=NOW
    )
    assert "extra.yaml" not in draft.sources
    with pytest.raises(TuningNotFound):
        drafts.remove_file(session, draft, name="extra.yaml", started_from=drafts.digest(""), user=author, now=NOW)
    for bad in ("../escape.yaml", "Flags.yaml", "a/b/c.yaml", "notes.yml", "/etc/x.yaml", ""):
        with pytest.raises(TuningInvalid, match="is not a rule file name"):
            drafts.save_file(session, draft, name=bad, text="rules: []", started_from=None, user=author, now=NOW)
    assert drafts.check_file_name("tables/doses.yaml") == "tables/doses.yaml"
    assert draft.sources == SHIPPED
    assert [e.details["file"] for e in events(session, "ruleset.draft_file_removed")] == ["extra.yaml"]


def test_a_physician_cannot_edit_a_draft(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    with pytest.raises(TuningForbidden):
        change(session, draft, people.physician, *WORDING)


# --- Checking and submitting --------------------------------------------------------------------------


def test_check_reports_load_errors_at_their_file_line_and_column(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    change(session, draft, people.author, "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    change(session, draft, people.author, "flags.yaml", "when: age >= 65", 'when: age >= "65"')
    check = checks.check_draft(session, draft)
    assert not check.loads and not check.publishable
    line, column = position(draft.sources["candidates.yaml"], "phq9x")
    age_line, age_column = position(draft.sources["flags.yaml"], '"65"')
    [unknown] = check.errors_in("candidates.yaml")[line]
    assert (unknown.file, unknown.line, unknown.column, unknown.rule) == (
        "candidates.yaml",
        line,
        column,
        "candidate-trd",
    )
    assert f"candidates.yaml:{line}:{column}: candidate-trd: unknown fact 'phq9x'" in check.problems[0]
    assert any(p.startswith(f"flags.yaml:{age_line}:{age_column}: flag-age-65: type mismatch") for p in check.problems)


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        ("candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10", "unknown fact 'phq9x'"),
        ("flags.yaml", "when: age >= 65", "when: age >= 66", "test 'age 65' failed"),
        ("safety.yaml", "when: phq9_item9 >= 1", "when: phq9_item9 >= 1 or phq9 >= 27", "must read exactly"),
        ("safety.yaml", "Item 9 alone neither", "Item 9 by itself neither", "notes of the locked safety rule"),
        ("safety.yaml", 'not at all", whatever else.', 'not at all".', "locked safety rule cannot be changed"),
        ("outcomes.yaml", "rank: 100", "rank: 101", "the rank, priority and needs_action of the safety outcome"),
        (
            "outcomes.yaml",
            "priority: 1\n    needs_action: true",
            "priority: 1\n    needs_action: false",
            "'safety' must have needs_action: true",
        ),
    ],
    ids=["load-error", "failing-test", "safety-condition", "safety-note", "safety-description", "rank", "action"],
)
def test_submit_is_refused_for_load_errors_failing_tests_and_safety_changes(
    session: orm.Session, people: People, name: str, old: str, new: str, problem: str
) -> None:
    draft = new_draft(session, people.author)
    change(session, draft, people.author, name, old, new)
    with pytest.raises(TuningInvalid, match=re.escape(problem)):
        drafts.submit(session, draft, user=as_user(session, people.author), now=NOW)
    session.refresh(draft)
    assert draft.status == drafts.EDITING and draft.submitted_at is None
    assert events(session, "ruleset.draft_submitted") == []


def test_submit_is_refused_when_the_safety_outcome_moves_in_the_queue(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    text = draft.sources["outcomes.yaml"]
    author = as_user(session, people.author)
    drafts.save_file(
        session,
        draft,
        name="outcomes.yaml",
        text=shifted_priorities(text),
        started_from=drafts.digest(text),
        user=author,
        now=NOW,
    )
    check = checks.check_draft(session, draft)
    assert not check.loads  # the engine's safety lock refuses it at the safety outcome
    assert any("'safety' must have the highest rank and queue priority 1" in p for p in check.problems)
    with pytest.raises(TuningInvalid, match="queue priority 1"):
        drafts.submit(session, draft, user=author, now=NOW)


def test_a_wording_change_of_another_rule_is_submitted(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    assert draft.status == drafts.SUBMITTED and draft.submitted_by_id == people.author.id
    [event] = events(session, "ruleset.draft_submitted")
    assert event.details == {"version": version_of(dict(draft.sources))}
    with pytest.raises(TuningConflict):  # a submitted draft is not edited
        change(session, draft, people.author, "flags.yaml", "fewer data", "less data")


# --- Approving and publishing -------------------------------------------------------------------------


def test_the_author_a_co_author_and_staff_cannot_approve(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.admin)  # written by an administrator, who may approve other drafts
    change(session, draft, people.other_admin, *WORDING)  # another administrator helped
    drafts.submit(session, draft, user=as_user(session, people.admin), now=NOW)
    before = active_version(session)
    refusals = {
        "author": (people.admin, "second person"),
        "co-author": (people.other_admin, "second person"),
        "staff": (people.colleague, "Only a physician or an administrator"),
    }
    for who, (user, message) in refusals.items():
        with pytest.raises(TuningForbidden, match=message):
            approve_as(session, draft, user)
        assert active_version(session) == before, who
    assert draft.status == drafts.SUBMITTED
    assert publishing.may_approve(draft, as_user(session, people.physician), two_person=True) is None
    staff_draft = submitted(session, people)
    with pytest.raises(TuningForbidden):
        approve_as(session, staff_draft, people.author)


def test_a_reviewer_who_sent_a_draft_back_may_approve_it_later(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    physician = as_user(session, people.physician)
    drafts.send_back(session, draft, user=physician, note="Please cite a source.", now=NOW)
    change(session, draft, people.author, "flags.yaml", "fewer data", "scarce data")
    drafts.submit(session, draft, user=as_user(session, people.author), now=NOW)
    assert physician.id not in draft.editor_ids
    published = publishing.approve(
        session, draft, user=physician, now=NOW, two_person=True, reviewed=draft_version(draft)
    )
    assert active_version(session) == published.version.version


@pytest.mark.parametrize("approver", ["physician", "other_admin"])
def test_a_second_person_approves_and_the_version_is_active_and_audited(
    session: orm.Session, people: People, approver: str
) -> None:
    second = getattr(people, approver)
    draft = submitted(session, people)
    published = publishing.approve(
        session, draft, user=as_user(session, second), now=NOW, two_person=True, reviewed=draft_version(draft)
    )
    session.commit()
    assert active_version(session) == published.version.version == version_of(dict(draft.sources))
    assert published.version.sources == draft.sources and published.version.origin == f"draft:{draft.id}"
    activation = published.activation
    assert (activation.kind, activation.actor, activation.approved_by, activation.draft_id) == (
        store.PUBLISH,
        f"user:{people.author.id}",
        f"user:{second.id}",
        draft.id,
    )
    assert draft.status == drafts.PUBLISHED and draft.reviewed_by_id == second.id
    assert draft.published_version_id == published.version.id
    [approved] = events(session, "ruleset.approved")
    assert (approved.actor, approved.subject_type, approved.subject_id) == (f"user:{second.id}", "rule_draft", draft.id)
    assert approved.details == {
        "version": published.version.version,
        "author": f"user:{people.author.id}",
        "two_person": True,
    }
    activated = events(session, "ruleset.activated")[-1]
    assert (activated.actor, activated.subject_type, activated.subject_id) == (
        f"user:{people.author.id}",
        "ruleset_version",
        published.version.id,
    )
    assert activated.details["approved_by"] == f"user:{second.id}" and activated.details["draft"] == draft.id
    with pytest.raises(TuningConflict):  # published once
        approve_as(session, draft, second)


def test_with_the_two_person_rule_off_the_author_publishes(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    published = publishing.approve(
        session,
        draft,
        user=as_user(session, people.author),
        now=NOW,
        two_person=False,
        reviewed=draft_version(draft),
    )
    assert published.activation.approved_by is None
    assert active_version(session) == published.version.version
    assert events(session, "ruleset.approved")[-1].details["two_person"] is False
    other = new_draft(session, people.colleague)
    change(session, other, people.colleague, "flags.yaml", "fewer data", "scarce data")
    again = publishing.publish_now(
        session, other, user=as_user(session, people.colleague), now=NOW, reviewed=draft_version(other)
    )
    assert other.status == drafts.PUBLISHED and active_version(session) == again.version.version
    assert again.activation.actor == f"user:{people.colleague.id}"


# --- An approval names the text it reviewed -----------------------------------------------------------


def resubmitted_with(session: orm.Session, people: People, draft: RuleDraft, old: str, new: str) -> None:
    """Withdraw a submitted draft, change ``old`` to ``new`` in flags.yaml (unless equal) and submit it again."""
    author = as_user(session, people.author)
    drafts.withdraw(session, draft, user=author, now=NOW)
    if old != new:
        change(session, draft, people.author, "flags.yaml", old, new)
    drafts.submit(session, draft, user=author, now=NOW)


def test_a_draft_changed_after_it_was_opened_is_not_approved(
    session: orm.Session, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    draft = submitted(session, people)
    seen = draft_version(draft)  # what the physician's page showed
    before = active_version(session)
    resubmitted_with(session, people, draft, "fewer data", "no data at all")
    physician = as_user(session, people.physician)
    with pytest.raises(TuningConflict, match="This draft changed after you opened it: review it again") as refused:
        publishing.approve(session, draft, user=physician, now=NOW, two_person=True, reviewed=seen)
    assert seen[7:19] in refused.value.message and draft_version(draft)[7:19] in refused.value.message
    assert isinstance(refused.value, ReviewOutdated)
    assert active_version(session) == before and draft.status == drafts.SUBMITTED
    assert events(session, "ruleset.approved") == []
    logged = [r.getMessage() for r in caplog.records if r.name == "screening.tuning.reviewed"]
    assert any(f"draft {draft.id}" in line and seen in line for line in logged), logged
    assert not any("no data at all" in line for line in logged)
    record_refused_approval(session, refused.value, user=physician, now=NOW)
    [event] = events(session, "ruleset.approval_refused")
    assert (event.actor, event.subject_type, event.subject_id) == (f"user:{physician.id}", "rule_draft", draft.id)
    assert event.details == {"reviewed": seen, "version": draft_version(draft)}
    published = publishing.approve(
        session, draft, user=physician, now=NOW, two_person=True, reviewed=draft_version(draft)
    )
    assert published.version.sources == draft.sources


def test_a_draft_resubmitted_with_the_same_text_is_approved_with_the_old_digest(
    session: orm.Session, people: People
) -> None:
    draft = submitted(session, people)
    seen = draft_version(draft)
    resubmitted_with(session, people, draft, "fewer data", "fewer data")
    published = publishing.approve(
        session, draft, user=as_user(session, people.physician), now=NOW, two_person=True, reviewed=seen
    )
    assert published.version.version == seen


def test_the_reviewed_version_may_be_a_prefix_of_six_digits_or_more(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    physician = as_user(session, people.physician)
    digits = draft_version(draft).removeprefix("sha256:")
    refusals = {
        "": "did not say which text of the draft you reviewed",
        "   ": "did not say which text of the draft you reviewed",
        digits[:5]: "is not a version of the draft: give its hash or at least 6 of its first digits",
        "sha256:" + digits[:5]: "at least 6 of its first digits",
        digits[:6] + "xyz": "at least 6 of its first digits",
        "f" * 65: "at least 6 of its first digits",
    }
    for text, message in refusals.items():
        with pytest.raises(TuningInvalid, match=message):
            publishing.approve(session, draft, user=physician, now=NOW, two_person=True, reviewed=text)
    other = "0" if digits[0] != "0" else "1"
    with pytest.raises(TuningConflict, match="changed after you opened it"):
        publishing.approve(session, draft, user=physician, now=NOW, two_person=True, reviewed=other + digits[1:])
    assert draft.status == drafts.SUBMITTED
    published = publishing.approve(
        session, draft, user=physician, now=NOW, two_person=True, reviewed=f" SHA256:{digits[:6].upper()} "
    )
    assert published.version.version == "sha256:" + digits


def test_a_prefix_shared_by_two_submitted_texts_of_the_draft_is_refused(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    digits = draft_version(draft).removeprefix("sha256:")
    # An earlier submission whose text hashes to the same first digits (made up: finding one takes a long search).
    earlier = "sha256:" + digits[:8] + ("0" if digits[8] != "0" else "1") + digits[9:]
    session.add(
        AuditEvent(
            at=NOW,
            actor=f"user:{people.author.id}",
            action="ruleset.draft_submitted",
            subject_type="rule_draft",
            subject_id=draft.id,
            details={"version": earlier},
        )
    )
    physician = as_user(session, people.physician)
    with pytest.raises(TuningConflict, match="More than one text this draft was submitted with starts with"):
        publishing.approve(session, draft, user=physician, now=NOW, two_person=True, reviewed=digits[:8])
    published = publishing.approve(session, draft, user=physician, now=NOW, two_person=True, reviewed=digits[:9])
    assert published.version.version == "sha256:" + digits


def test_publishing_at_once_also_names_the_text(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    change(session, draft, people.author, *WORDING)
    seen = draft_version(draft)
    change(session, draft, people.colleague, "flags.yaml", "fewer data", "no data at all")
    with pytest.raises(TuningConflict, match="changed after you opened it"):
        publishing.publish_now(session, draft, user=as_user(session, people.author), now=NOW, reviewed=seen)
    assert draft.status == drafts.EDITING and events(session, "ruleset.approved") == []


def test_an_unsubmitted_draft_is_not_approved(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    change(session, draft, people.author, *WORDING)
    with pytest.raises(TuningConflict, match="editing"):
        approve_as(session, draft, people.physician)


def test_submitting_a_draft_equal_to_the_active_version_is_refused(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    with pytest.raises(TuningInvalid, match="same files as the active version: there is nothing to submit"):
        drafts.submit(session, draft, user=as_user(session, people.author), now=NOW)
    assert draft.status == drafts.EDITING


def test_a_draft_started_before_another_publication_cannot_undo_it(session: orm.Session, people: People) -> None:
    stale = new_draft(session, people.author)
    published = submitted(session, people)
    approve_as(session, published, people.physician)
    text = stale.sources["flags.yaml"]
    drafts.save_file(
        session,
        stale,
        name="flags.yaml",
        text=text + "# another change\n",
        started_from=drafts.digest(text),
        user=as_user(session, people.author),
        now=NOW,
    )
    with pytest.raises(TuningConflict, match="The active version changed since this draft started"):
        drafts.submit(session, stale, user=as_user(session, people.author), now=NOW)
    assert session.scalar(sa.select(sa.func.count()).select_from(RuleSetActivation)) == 2


# --- Sending back, withdrawing, discarding ------------------------------------------------------------


def test_sending_back_needs_a_reviewer_and_a_note(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    physician = as_user(session, people.physician)
    with pytest.raises(TuningInvalid, match="Say why"):
        drafts.send_back(session, draft, user=physician, note="  ", now=NOW)
    with pytest.raises(TuningForbidden):
        drafts.send_back(session, draft, user=as_user(session, people.colleague), note="No.", now=NOW)
    note = "Please cite the source for this wording."
    drafts.send_back(session, draft, user=physician, note=note, now=NOW)
    assert (draft.status, draft.review_note, draft.reviewed_by_id) == (drafts.EDITING, note, physician.id)
    [event] = events(session, "ruleset.draft_sent_back")
    assert event.actor == f"user:{physician.id}" and event.details == {}  # the note stays on the draft


def test_a_submitted_draft_is_withdrawn_for_more_editing(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    author = as_user(session, people.author)
    drafts.withdraw(session, draft, user=author, now=NOW)
    assert draft.status == drafts.EDITING and draft.submitted_at is None
    with pytest.raises(TuningConflict):
        drafts.withdraw(session, draft, user=author, now=NOW)
    change(session, draft, people.author, "flags.yaml", "fewer data", "scarce data")
    assert [e.actor for e in events(session, "ruleset.draft_withdrawn")] == [f"user:{author.id}"]


def test_a_discarded_draft_is_closed(session: orm.Session, people: People) -> None:
    draft = submitted(session, people)
    author = as_user(session, people.author)
    drafts.discard(session, draft, user=author, now=NOW)
    assert draft.status == drafts.DISCARDED
    assert draft not in drafts.list_drafts(session) and draft in drafts.list_drafts(session, include_closed=True)
    with pytest.raises(TuningConflict):
        drafts.discard(session, draft, user=author, now=NOW)
    with pytest.raises(TuningConflict):
        change(session, draft, people.author, "flags.yaml", "fewer data", "scarce data")
    with pytest.raises(TuningConflict):
        approve_as(session, draft, people.physician)
    assert len(events(session, "ruleset.draft_discarded")) == 1


def test_a_missing_draft_is_not_found(session: orm.Session, people: People) -> None:
    with pytest.raises(TuningNotFound, match="no draft number 404"):
        drafts.get_draft(session, 404)


# --- Rolling back -------------------------------------------------------------------------------------


def test_rollback_reactivates_an_earlier_version_in_one_step(session: orm.Session, people: People) -> None:
    first = active_version(session)
    draft = submitted(session, people)
    approve_as(session, draft, people.physician)
    earlier = store.find_version(session, first.removeprefix("sha256:")[:8])
    with pytest.raises(TuningForbidden):
        publishing.rollback(session, earlier, user=as_user(session, people.physician), now=NOW)
    back = publishing.rollback(session, earlier, user=as_user(session, people.colleague), now=NOW)
    session.commit()
    assert active_version(session) == first
    assert (back.activation.kind, back.activation.actor) == (store.ROLLBACK, f"user:{people.colleague.id}")
    [event] = events(session, "ruleset.rolled_back")
    assert (event.subject_type, event.subject_id, event.details["version"]) == ("ruleset_version", earlier.id, first)
    with pytest.raises(TuningConflict, match="already the active one"):
        publishing.rollback(session, earlier, user=as_user(session, people.colleague), now=NOW)
    kinds = session.scalars(sa.select(RuleSetActivation.kind).order_by(RuleSetActivation.id)).all()
    assert kinds == [store.BOOTSTRAP, store.PUBLISH, store.ROLLBACK]


def test_rollback_refuses_a_version_that_no_longer_loads(session: orm.Session, people: People) -> None:
    broken = {**SHIPPED, "candidates.yaml": SHIPPED["candidates.yaml"].replace("phq9 >= 10", "phq9x >= 10")}
    stored = store.store_version(session, broken, origin="test", now=NOW)
    with pytest.raises(TuningInvalid, match="no longer loads"):
        publishing.rollback(session, stored, user=as_user(session, people.author), now=NOW)


def test_every_step_is_audited_with_identifiers_only(session: orm.Session, people: People) -> None:
    draft = new_draft(session, people.author)
    author = as_user(session, people.author)
    drafts.save_file(session, draft, name="extra.yaml", text="rules: []", started_from=None, user=author, now=NOW)
    drafts.remove_file(
        session, draft, name="extra.yaml", started_from=drafts.digest("rules: []\n"), user=author, now=NOW
    )
    change(session, draft, people.author, *WORDING)
    drafts.submit(session, draft, user=author, now=NOW)
    drafts.send_back(session, draft, user=as_user(session, people.physician), note="Cite a source please.", now=NOW)
    drafts.submit(session, draft, user=author, now=NOW)
    drafts.withdraw(session, draft, user=author, now=NOW)
    drafts.submit(session, draft, user=author, now=NOW)
    approve_as(session, draft, people.physician)
    publishing.rollback(session, store.find_version(session, version_of(SHIPPED)), user=author, now=NOW)
    session.commit()
    steps = events(session)
    assert [event.action for event in steps if event.action != "ruleset.activated"] == [
        "ruleset.draft_created",
        "ruleset.draft_saved",
        "ruleset.draft_file_removed",
        "ruleset.draft_saved",
        "ruleset.draft_submitted",
        "ruleset.draft_sent_back",
        "ruleset.draft_submitted",
        "ruleset.draft_withdrawn",
        "ruleset.draft_submitted",
        "ruleset.approved",
        "ruleset.rolled_back",
    ]
    for event in steps:
        assert re.fullmatch(r"user:\d+|system", event.actor), event.actor
        for value in event.details.values():
            assert value is None or isinstance(value, int | bool) or re.fullmatch(r"[\w:./-]+", value), value


# --- Writing the published files ----------------------------------------------------------------------


def published_version(session: orm.Session, people: People) -> publishing.Published:
    """Publish a wording change and return it."""
    draft = submitted(session, people)
    published = approve_as(session, draft, people.physician)
    session.commit()
    return published


def test_the_published_files_replace_the_rules_directory(session: orm.Session, people: People, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    (rules / "stale.yaml").write_text("rules: []\n")
    (rules / "tables" / "stale.yaml").write_text("rules: []\n")
    (rules / "README.md").write_text("kept\n")
    published = published_version(session, people)
    written = publishing.write_published_files(rules, published)
    assert written.files_error is None
    assert read_sources(rules) == published.version.sources
    assert (rules / "README.md").read_text() == "kept\n"
    assert [path.name for path in rules.rglob("*.tmp")] == []


def test_a_relative_rules_directory_is_written_whole(
    session: orm.Session, people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = published_version(session, people)
    monkeypatch.chdir(tmp_path)
    assert publishing.write_published_files(Path("rules"), published).files_error is None
    assert read_sources(tmp_path / "rules") == published.version.sources


def test_a_failed_write_leaves_the_old_files_whole(
    session: orm.Session, people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = copy_rules(tmp_path)
    published = published_version(session, people)
    real = tempfile.mkstemp
    calls = []

    def failing_third(*args: Any, **kwargs: Any) -> tuple[int, str]:
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", failing_third)
    written = publishing.write_published_files(rules, published)
    assert written.files_error is not None and "OSError" in written.files_error
    assert read_sources(rules) == SHIPPED  # nothing half-written
    assert [path.name for path in rules.rglob("*.tmp")] == []
    assert written.activation is published.activation


def test_an_unwritable_rules_directory_is_reported_not_raised(
    session: orm.Session, people: People, tmp_path: Path
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory\n")
    published = published_version(session, people)
    written = publishing.write_published_files(blocker / "rules", published)
    assert written.files_error is not None and str(blocker / "rules") in written.files_error
    assert active_version(session) == published.version.version  # the database is the truth whatever happens


def test_the_audit_page_suggests_every_rule_action() -> None:
    written = set()
    for path in (Path(__file__).resolve().parent.parent / "screening").rglob("*.py"):
        written |= set(re.findall(r'"(ruleset\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert len(written) >= 10
    assert written <= set(KNOWN_ACTIONS)


def test_two_switches_from_the_same_active_version_cannot_both_be_stored(
    app: Flask, session: orm.Session, people: People
) -> None:
    published = submitted(session, people)
    approve_as(session, published, people.physician)
    session.commit()
    [newest, first] = store.activations(session)
    assert newest[0].replaces_id == first[0].id and first[0].replaces_id is None
    with new_session(app) as other:
        # A second switch decided from the same view of the active version, as a concurrent request would.
        other.add(
            RuleSetActivation(version_id=first[1].id, at=NOW, kind="rollback", actor="user:1", replaces_id=first[0].id)
        )
        with pytest.raises(IntegrityError):
            other.commit()
    assert len(store.activations(session)) == 2
