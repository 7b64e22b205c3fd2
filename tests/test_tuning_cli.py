"""``flask rules publish|approve|rollback|export|versions`` and ``rules activate``: output and exit codes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from screening.db import engine_for
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import RuleDraft
from screening.models import RuleSetActivation
from screening.models import User
from screening.active_rules import store
from screening.engine.loader import read_sources
from screening.engine.loader import version_of
from screening.tuning import drafts

from .accounts import Users
from .conftest import make_app
from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import position
from .ruleset_files import rules_version

WORDING = ("Aged 65 or over: less data", "Aged 65 or over: fewer data")
UNKNOWN_FACT = ("when: trd and phq9 >= 10", "when: trd and phq9x >= 10")


@dataclass
class Clinic:
    """An app on the test database with its own rules directory, and the users who tune the rules."""

    app: Flask
    rules: Path
    staff: str
    colleague: str
    physician: str
    admin: str

    def run(self, *args: str) -> Result:
        """Run ``flask rules ARGS`` and return the result (stdout and stderr together)."""
        return self.app.test_cli_runner().invoke(args=["rules", *args])

    def active(self) -> str:
        """Return the active version's hash."""
        with new_session(self.app) as session:
            current = store.active(session)
            assert current is not None
            return current.version.version

    def activations(self) -> list[RuleSetActivation]:
        """Return every activation, oldest first."""
        with new_session(self.app) as session:
            return list(session.scalars(sa.select(RuleSetActivation).order_by(RuleSetActivation.id)))

    def drafts(self) -> list[RuleDraft]:
        """Return every draft, oldest first."""
        with new_session(self.app) as session:
            return list(session.scalars(sa.select(RuleDraft).order_by(RuleDraft.id)))


def clinic_for(app: Flask, users: Users, tmp_path: Path, **config: Any) -> Iterator[Clinic]:
    """Yield a started clinic (the shipped rules activated from a private rules directory)."""
    rules = copy_rules(tmp_path)
    clinic_app = make_app(app.config["DATABASE_URL"], RULES_DIR=str(rules), **config)
    clinic = Clinic(
        app=clinic_app,
        rules=rules,
        staff=users.create("staff").email,
        colleague=users.create("staff").email,
        physician=users.create("physician").email,
        admin=users.create("admin").email,
    )
    try:
        yield clinic
    finally:
        engine_for(clinic_app).dispose()


@pytest.fixture()
def clinic(app: Flask, users: Users, tmp_path: Path) -> Iterator[Clinic]:
    """Return a clinic with the two-person rule on (the default)."""
    yield from clinic_for(app, users, tmp_path)


@pytest.fixture()
def small_clinic(app: Flask, users: Users, tmp_path: Path) -> Iterator[Clinic]:
    """Return a clinic that turned the two-person rule off."""
    yield from clinic_for(app, users, tmp_path, RULES_TWO_PERSON=False)


def started(clinic: Clinic) -> str:
    """Activate the files as ``make run`` does on the first start; return the active version."""
    result = clinic.run("activate")
    assert result.exit_code == 0, result.output
    return clinic.active()


def one_line_error(result: Result) -> str:
    """Return the single error line of a refused command (exit 1, no traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


def version_of_draft(clinic: Clinic, draft_id: int) -> str:
    """Return the version of a draft's text, as `rules drafts` prints it."""
    with new_session(clinic.app) as session:
        draft = session.get(RuleDraft, draft_id)
        assert draft is not None
        return version_of(dict(draft.sources))


def approve(clinic: Clinic, draft_id: int | str, email: str, version: str | None = None) -> Result:
    """Run `rules approve DRAFT --version VERSION --by EMAIL`; VERSION defaults to the draft's version now."""
    if version is None:
        with new_session(clinic.app) as session:
            draft = session.get(RuleDraft, int(draft_id))
            version = version_of(dict(draft.sources)) if draft is not None else "sha256:abcdef"
    return clinic.run("approve", str(draft_id), "--version", version, "--by", email)


def submitted_draft(clinic: Clinic) -> int:
    """Publish a wording change of the files with the two-person rule on; return the draft number."""
    edit(clinic.rules / "flags.yaml", *WORDING)
    result = clinic.run("publish", "--by", clinic.staff)
    assert result.exit_code == 0, result.output
    return clinic.drafts()[-1].id


# --- activate -----------------------------------------------------------------------------------------


def test_activate_starts_from_the_files_once(clinic: Clinic) -> None:
    result = clinic.run("activate")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Active rule set: {rules_version()}"
    assert clinic.run("activate").exit_code == 0
    assert [a.kind for a in clinic.activations()] == [store.BOOTSTRAP]


def test_activate_with_unpublished_files_still_starts_and_says_so(clinic: Clinic) -> None:
    first = started(clinic)
    edit(clinic.rules / "flags.yaml", *WORDING)
    result = clinic.run("activate")
    assert result.exit_code == 0, result.output
    assert f"Active rule set: {first}" in result.output
    assert f"valid, unpublished change ({version_of(read_sources(clinic.rules))})" in result.output
    assert "flask --app screening rules publish --by EMAIL" in result.output
    assert clinic.active() == first and len(clinic.activations()) == 1


def test_activate_with_invalid_files_still_starts_and_lists_the_errors(clinic: Clinic) -> None:
    first = started(clinic)
    edit(clinic.rules / "candidates.yaml", *UNKNOWN_FACT)
    result = clinic.run("activate")
    assert result.exit_code == 0, result.output
    assert f"Active rule set: {first}" in result.output
    assert "are invalid (1 problem(s))" in result.output
    assert f"{clinic.rules}/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'" in result.output
    assert clinic.active() == first


def test_activate_fails_only_when_no_rule_set_can_be_active(clinic: Clinic) -> None:
    edit(clinic.rules / "candidates.yaml", *UNKNOWN_FACT)
    result = clinic.run("activate")
    assert result.exit_code == 1
    assert "rules/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'" in result.output
    assert "Error: no valid rule set: the app cannot decide outcomes" in result.output


# --- publish and approve ------------------------------------------------------------------------------


def test_publish_with_the_two_person_rule_submits_a_draft_and_changes_nothing(clinic: Clinic) -> None:
    first = started(clinic)
    edit(clinic.rules / "flags.yaml", *WORDING)
    files = version_of(read_sources(clinic.rules))
    result = clinic.run("publish", "--by", clinic.staff.upper())
    assert result.exit_code == 0, result.output
    [draft] = clinic.drafts()
    assert f"{clinic.staff} submitted draft {draft.id} ({files}) for approval." in result.output
    assert f"The active version is unchanged: {first}." in result.output
    assert f"/rules/drafts/{draft.id} " in result.output
    assert f"flask --app screening rules approve {draft.id} --version VERSION --by EMAIL" in result.output
    assert "flask --app screening rules drafts" in result.output
    assert (draft.status, draft.origin) == ("submitted", "files")
    assert draft.sources == read_sources(clinic.rules)
    assert clinic.active() == first and len(clinic.activations()) == 1
    again = clinic.run("publish", "--by", clinic.colleague)
    assert again.exit_code == 0 and f"Draft {draft.id} with these files ({files}) is already waiting" in again.output
    assert len(clinic.drafts()) == 1


def test_a_second_person_approves_activates_and_writes_the_files(clinic: Clinic, tmp_path: Path) -> None:
    started(clinic)
    elsewhere = tmp_path / "checkout"
    shutil.copytree(clinic.rules, elsewhere)
    edit(elsewhere / "flags.yaml", *WORDING)
    published = clinic.run("publish", str(elsewhere), "--by", clinic.staff)
    assert published.exit_code == 0, published.output
    [draft] = clinic.drafts()
    result = approve(clinic, str(draft.id), clinic.physician)
    assert result.exit_code == 0, result.output
    wanted = version_of(read_sources(elsewhere))
    assert f"Approved draft {draft.id} as {clinic.physician}: version {wanted} is active" in result.output
    assert f"Wrote its files to {clinic.rules}." in result.output
    assert clinic.active() == wanted
    assert read_sources(clinic.rules) == read_sources(elsewhere)  # the rules directory follows the database
    activation = clinic.activations()[-1]
    assert (activation.kind, activation.draft_id) == (store.PUBLISH, draft.id)
    assert activation.actor != activation.approved_by and activation.approved_by is not None
    with new_session(clinic.app) as session:
        actions = list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-4:] == ["ruleset.draft_created", "ruleset.draft_submitted", "ruleset.approved", "ruleset.activated"]


def test_approve_refusals_are_one_line_errors(clinic: Clinic, users: Users) -> None:
    first = started(clinic)
    draft = submitted_draft(clinic)
    disabled = users.create("physician", disabled=True).email
    refusals = {
        (str(draft), clinic.staff): "Only a physician or an administrator can approve",
        (str(draft), clinic.colleague): "Only a physician or an administrator can approve",
        (str(draft), "nobody@clinic.test"): "No user has the email 'nobody@clinic.test'.",
        (str(draft), disabled): f"{disabled} is disabled",
        ("999", clinic.physician): "There is no draft number 999.",
    }
    for (number, email), message in refusals.items():
        assert message in one_line_error(approve(clinic, number, email)), (number, email)
    assert clinic.active() == first
    assert clinic.run("approve", "seven", "--by", clinic.physician).exit_code == 2


def test_drafts_lists_the_open_drafts_with_the_version_of_their_text(clinic: Clinic) -> None:
    started(clinic)
    assert clinic.run("drafts").output.strip() == "No draft is open."
    draft = submitted_draft(clinic)
    version = version_of_draft(clinic, draft)
    result = clinic.run("drafts")
    assert result.exit_code == 0, result.output
    [line, *rest] = result.output.splitlines()
    assert line.startswith(f"draft {draft}  waiting for approval  {version}  ")
    assert f"by {clinic.staff}" in line and "Rule files from" in line
    assert any(f"/rules/drafts/{draft}" in more for more in rest)


def test_approve_needs_the_version_that_was_reviewed(clinic: Clinic) -> None:
    first = started(clinic)
    draft = submitted_draft(clinic)
    missing = one_line_error(clinic.run("approve", str(draft), "--by", clinic.physician))
    assert "--version" in missing and "flask --app screening rules drafts" in missing
    assert f"/rules/drafts/{draft}" in missing
    version = version_of_draft(clinic, draft)
    digits = version.removeprefix("sha256:")
    short = one_line_error(approve(clinic, draft, clinic.physician, digits[:5]))
    assert "at least 6 of its first digits" in short
    other = ("0" if digits[0] != "0" else "1") + digits[1:6]
    refused = one_line_error(approve(clinic, draft, clinic.physician, other))
    assert "This draft changed after you opened it: review it again." in refused
    assert "flask --app screening rules drafts" in refused
    assert clinic.active() == first
    result = approve(clinic, draft, clinic.physician, digits[:6])
    assert result.exit_code == 0, result.output
    assert clinic.active() == version


def test_approve_of_a_draft_changed_after_it_was_reviewed_is_refused(clinic: Clinic, tmp_path: Path) -> None:
    first = started(clinic)
    draft = submitted_draft(clinic)
    reviewed = version_of_draft(clinic, draft)  # what the physician read
    # The author withdraws the draft, changes it and submits it again.
    with new_session(clinic.app) as session:
        found = session.get(RuleDraft, draft)
        author = session.scalars(sa.select(User).where(User.email == clinic.staff)).one()
        assert found is not None
        now = datetime.now(UTC)
        drafts.withdraw(session, found, user=author, now=now)
        text = found.sources["flags.yaml"]
        drafts.save_file(
            session,
            found,
            name="flags.yaml",
            text=text.replace("fewer data", "no data at all"),
            started_from=drafts.digest(text),
            user=author,
            now=now,
        )
        drafts.submit(session, found, user=author, now=now)
        session.commit()
    changed = version_of_draft(clinic, draft)
    error = one_line_error(approve(clinic, draft, clinic.physician, reviewed))
    assert "This draft changed after you opened it: review it again." in error
    assert f"You opened version {reviewed[7:19]}; it is now {changed[7:19]}." in error
    assert clinic.active() == first
    assert [d.status for d in clinic.drafts()] == ["submitted"]
    with new_session(clinic.app) as session:
        [event] = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "ruleset.approval_refused")).all()
        assert event.details == {"reviewed": reviewed, "version": changed}
    assert approve(clinic, draft, clinic.physician, changed[:20]).exit_code == 0
    assert clinic.active() == changed


def test_the_author_cannot_approve_their_own_files(clinic: Clinic) -> None:
    first = started(clinic)
    edit(clinic.rules / "flags.yaml", *WORDING)
    assert clinic.run("publish", "--by", clinic.admin).exit_code == 0
    [draft] = clinic.drafts()
    error = one_line_error(approve(clinic, str(draft.id), clinic.admin))
    assert error == "Error: A second person must approve: you wrote or submitted this draft."
    assert clinic.active() == first
    assert approve(clinic, str(draft.id), clinic.physician).exit_code == 0
    error = one_line_error(approve(clinic, str(draft.id), clinic.physician))
    assert error == "Error: This draft is published, so it cannot be approved."


def test_publish_with_the_two_person_rule_off_activates_at_once(small_clinic: Clinic) -> None:
    first = started(small_clinic)
    edit(small_clinic.rules / "flags.yaml", *WORDING)
    files = version_of(read_sources(small_clinic.rules))
    result = small_clinic.run("publish", "--by", small_clinic.staff, "--title", "Plainer wording")
    assert result.exit_code == 0, result.output
    [draft] = small_clinic.drafts()
    assert f"Published draft {draft.id}: version {files} is active" in result.output
    assert small_clinic.active() == files != first
    assert (draft.title, draft.status) == ("Plainer wording", "published")
    activation = small_clinic.activations()[-1]
    assert activation.kind == store.PUBLISH and activation.approved_by is None


def test_publish_of_invalid_files_prints_every_error_and_fails(clinic: Clinic) -> None:
    first = started(clinic)
    edit(clinic.rules / "candidates.yaml", *UNKNOWN_FACT)
    edit(clinic.rules / "flags.yaml", "when: age >= 65", 'when: age >= "65"')
    result = clinic.run("publish", "--by", clinic.staff)
    assert result.exit_code == 1
    line, column = position(clinic.rules / "candidates.yaml", "phq9x")
    age_line, age_column = position(clinic.rules / "flags.yaml", '"65"')
    assert f"{clinic.rules}/candidates.yaml:{line}:{column}: candidate-trd: unknown fact 'phq9x'" in result.output
    assert f"{clinic.rules}/flags.yaml:{age_line}:{age_column}: flag-age-65: type mismatch" in result.output
    assert one_line_error(result) == "Error: 2 problems in the rule files; nothing was published"
    assert clinic.drafts() == [] and clinic.active() == first


def test_publish_of_files_whose_tests_fail_is_refused(clinic: Clinic) -> None:
    started(clinic)
    edit(clinic.rules / "flags.yaml", "when: age >= 65", "when: age >= 66")
    result = clinic.run("publish", "--by", clinic.staff)
    assert result.exit_code == 1
    assert f"{clinic.rules}/flags.yaml:" in result.output and "test 'age 65' failed" in result.output
    assert clinic.drafts() == []


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        (
            "safety.yaml",
            "Item 9 alone neither",
            "Item 9 by itself neither",
            "safety.yaml:9:7: safety-self-harm: the notes of the locked safety rule",
        ),
        ("outcomes.yaml", "rank: 100", "rank: 101", "outcomes.yaml: safety: the rank, priority and needs_action"),
    ],
    ids=["safety-rule", "safety-outcome"],
)
def test_publish_touching_the_safety_rule_is_refused(
    clinic: Clinic, name: str, old: str, new: str, problem: str
) -> None:
    first = started(clinic)
    edit(clinic.rules / name, old, new)
    result = clinic.run("publish", "--by", clinic.admin)
    assert f"{clinic.rules}/{problem}" in result.output
    assert one_line_error(result) == "Error: 1 problem in the rule files; nothing was published"
    assert clinic.drafts() == [] and clinic.active() == first


def test_publish_of_the_active_files_says_so(clinic: Clinic) -> None:
    first = started(clinic)
    result = clinic.run("publish", "--by", clinic.staff)
    assert result.exit_code == 0, result.output
    assert f"are the active version already ({first}); nothing to publish." in result.output
    assert clinic.drafts() == []


def test_publish_refusals_are_one_line_errors(clinic: Clinic, users: Users, tmp_path: Path) -> None:
    edit(clinic.rules / "flags.yaml", *WORDING)
    assert "No rule set is active yet" in one_line_error(clinic.run("publish", "--by", clinic.staff))
    started(clinic)
    disabled = users.create("staff", disabled=True).email
    refusals = {
        clinic.physician: f"{clinic.physician} is a physician; only staff and administrators can publish rule files.",
        "nobody@clinic.test": "No user has the email 'nobody@clinic.test'.",
        disabled: f"{disabled} is disabled",
    }
    for email, message in refusals.items():
        assert message in one_line_error(clinic.run("publish", "--by", email)), email
    assert "no such file or directory" in one_line_error(
        clinic.run("publish", str(tmp_path / "missing"), "--by", clinic.staff)
    )
    assert clinic.drafts() == []
    assert clinic.run("publish").exit_code == 2  # --by is required


# --- rollback, export, versions -----------------------------------------------------------------------


def test_rollback_reactivates_an_earlier_version_and_writes_its_files(clinic: Clinic) -> None:
    first = started(clinic)
    shipped = read_sources(clinic.rules)
    draft = submitted_draft(clinic)
    assert approve(clinic, str(draft), clinic.physician).exit_code == 0
    result = clinic.run("rollback", first.removeprefix("sha256:")[:12], "--by", clinic.colleague)
    assert result.exit_code == 0, result.output
    assert f"Rolled back to version {first} as {clinic.colleague}" in result.output
    assert clinic.active() == first
    assert read_sources(clinic.rules) == shipped
    assert [a.kind for a in clinic.activations()] == [store.BOOTSTRAP, store.PUBLISH, store.ROLLBACK]
    with new_session(clinic.app) as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "ruleset.rolled_back")).one()
    assert event.details["version"] == first and event.actor.startswith("user:")
    refusals = {
        (first, clinic.staff): "This version is already the active one.",
        ("77961", clinic.staff): "give its hash or at least 6 of its first digits",
        ("ffffffff", clinic.staff): "no stored version starts with sha256:ffffffff",
        (first, clinic.physician): "Your role (physician) cannot roll back the rules.",
    }
    for (version, email), message in refusals.items():
        assert message in one_line_error(clinic.run("rollback", version, "--by", email)), (version, email)


def test_export_writes_a_version_that_checks_as_the_same_version(clinic: Clinic, tmp_path: Path) -> None:
    first = started(clinic)
    draft = submitted_draft(clinic)
    assert approve(clinic, str(draft), clinic.admin).exit_code == 0
    target = tmp_path / "exported"
    result = clinic.run("export", first, str(target))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Wrote {len(read_sources(target))} files of version {first} to {target}."
    checked = clinic.run("check", str(target))
    assert checked.exit_code == 0 and f"version {first}" in checked.output
    refused = one_line_error(clinic.run("export", clinic.active(), str(target)))
    assert "is not empty" in refused and "--force" in refused
    forced = clinic.run("export", clinic.active()[:20], str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert version_of(read_sources(target)) == clinic.active()
    assert "no stored version" in one_line_error(clinic.run("export", "abcdef0123", str(tmp_path / "other")))


def test_versions_lists_every_activation_with_the_people(clinic: Clinic) -> None:
    assert "No version is stored yet" in clinic.run("versions").output
    first = started(clinic)
    draft = submitted_draft(clinic)
    assert approve(clinic, str(draft), clinic.physician).exit_code == 0
    second = clinic.active()
    assert clinic.run("rollback", first, "--by", clinic.staff).exit_code == 0
    result = clinic.run("versions")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    short_first, short_second = first[7:19], second[7:19]
    assert lines[0].startswith(f"* {short_first}  stored ") and lines[0].endswith("from files  (active)")
    activations = clinic.activations()
    assert f"activation {activations[2].id} " in lines[1] and f"rollback   by {clinic.staff}" in lines[1]
    assert f"activation {activations[0].id} " in lines[2] and "bootstrap  by the system" in lines[2]
    assert lines[3].startswith(f"  {short_second}  stored ") and lines[3].endswith(f"from draft:{draft}")
    assert f"publish    by {clinic.staff}, approved by {clinic.physician}, draft {draft}" in lines[4]
    assert len(lines) == 5
