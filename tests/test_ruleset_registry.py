"""The active rule set lives in the database: the files start it once, publishing and roll-back switch every worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import new_session
from screening.models import AuditEvent
from screening.models import RuleSetActivation
from screening.models import RuleSetVersion
from screening.models import RulesLoadFailure
from screening.models import RulesWorker
from screening.models import User
from screening.active_rules import store
from screening.engine.loader import Sources
from screening.engine.loader import read_sources
from screening.engine.loader import version_of
from screening.active_rules.registry import Registry
from screening.active_rules.registry import RulesUnavailable
from screening.tuning import drafts
from screening.tuning import publishing
from screening.tuning.reviewed import draft_version

from .accounts import Auth
from .accounts import Users
from .ruleset_files import copy_rules
from .ruleset_files import edit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
WORDING = ("Aged 65 or over: less data", "Aged 65 or over: fewer data")
UNKNOWN_FACT = ("when: trd and phq9 >= 10", "when: trd and phq9x >= 10")


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    """Return a private copy of the shipped rules directory."""
    return copy_rules(tmp_path)


def registry_for(app: Flask, rules: Path) -> Registry:
    """Return a serving registry on the app's database that checks the database and the files at every call."""
    return Registry(rules, lambda: new_session(app), check_seconds=0, serving=True)


def stored_versions(app: Flask) -> list[str]:
    """Return the stored versions, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(RuleSetVersion.version).order_by(RuleSetVersion.id)))


def activation_kinds(app: Flask) -> list[tuple[str, str]]:
    """Return (kind, version) of every activation, oldest first."""
    with new_session(app) as session:
        rows = session.execute(
            sa.select(RuleSetActivation.kind, RuleSetVersion.version)
            .join(RuleSetVersion, RuleSetVersion.id == RuleSetActivation.version_id)
            .order_by(RuleSetActivation.id)
        )
        return [(row[0], row[1]) for row in rows]


def failures(app: Flask) -> list[RulesLoadFailure]:
    """Return the recorded load failures, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(RulesLoadFailure).order_by(RulesLoadFailure.id)))


def worker_rows(app: Flask) -> list[RulesWorker]:
    """Return every worker's status row, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(RulesWorker).order_by(RulesWorker.id)))


def edited(sources: Sources, name: str, old: str, new: str) -> Sources:
    """Return ``sources`` with ``old`` replaced by ``new`` in one file."""
    assert old in sources[name]
    return {**sources, name: sources[name].replace(old, new, 1)}


def activate(app: Flask, sources: Sources, kind: str = store.PUBLISH) -> str:
    """Store ``sources`` and make them the active version straight in the database; return the version."""
    with new_session(app) as session:
        stored = store.store_version(session, sources, origin="test", now=NOW)
        store.activate(session, stored, kind=kind, actor="cli", now=NOW)
        session.commit()
        return stored.version


def publish_through_a_draft(app: Flask, author: User, approver: User, name: str, old: str, new: str) -> str:
    """Edit one file of the active version in a draft, submit it and have a second person approve it."""
    with new_session(app) as session:
        writer = session.get(User, author.id)
        second = session.get(User, approver.id)
        assert writer is not None and second is not None
        draft = drafts.start_draft(session, title="Change wording", user=writer, now=NOW)
        text = draft.sources[name]
        drafts.save_file(
            session,
            draft,
            name=name,
            text=text.replace(old, new, 1),
            started_from=drafts.digest(text),
            user=writer,
            now=NOW,
        )
        drafts.submit(session, draft, user=writer, now=NOW)
        published = publishing.approve(
            session, draft, user=second, now=NOW, two_person=True, reviewed=draft_version(draft)
        )
        session.commit()
        return published.version.version


def roll_back(app: Flask, by: User, version: str) -> None:
    """Make a stored version active again through the drafts service."""
    with new_session(app) as session:
        user = session.get(User, by.id)
        assert user is not None
        publishing.rollback(session, store.find_version(session, version), user=user, now=NOW)
        session.commit()


# --- The first start ---------------------------------------------------------------------------------


def test_the_first_start_activates_valid_files_once_and_audits_it(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    ruleset = registry.require(NOW)
    assert ruleset.version == version_of(read_sources(rules))
    registry.require(NOW)
    registry_for(app, rules).require(NOW)  # another process starting later
    assert stored_versions(app) == [ruleset.version]  # stored once
    assert activation_kinds(app) == [(store.BOOTSTRAP, ruleset.version)]
    with new_session(app) as session:
        stored = session.scalars(sa.select(RuleSetVersion)).one()
        activation = session.scalars(sa.select(RuleSetActivation)).one()
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "ruleset.activated")).one()
    assert stored.sources == read_sources(rules) and stored.origin == "files"
    assert activation.actor == "system" and activation.approved_by is None
    assert (event.actor, event.subject_type, event.subject_id) == ("system", "ruleset_version", stored.id)
    assert event.details["version"] == ruleset.version and event.details["kind"] == store.BOOTSTRAP
    assert registry.files_state == "active" and registry.files_version == ruleset.version
    assert failures(app) == []


def test_the_first_start_refuses_invalid_files_listing_every_error(app: Flask, rules: Path) -> None:
    edit(rules / "candidates.yaml", *UNKNOWN_FACT)
    edit(rules / "safety.yaml", "when: phq9_item9 >= 1", "when: phq9_item9 >= 2")
    with pytest.raises(RulesUnavailable) as refused:
        registry_for(app, rules).require(NOW)
    errors = refused.value.errors
    assert any(error.startswith("rules/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'") for error in errors)
    assert any("the locked safety rule must read exactly" in error for error in errors)
    assert stored_versions(app) == [] and activation_kinds(app) == []
    [failure] = failures(app)
    assert failure.errors == errors


def test_the_first_start_refuses_files_whose_own_tests_fail(app: Flask, rules: Path) -> None:
    edit(rules / "flags.yaml", "when: age >= 65", "when: age >= 66")  # loads, but its test "age 65" fails
    with pytest.raises(RulesUnavailable) as refused:
        registry_for(app, rules).require(NOW)
    assert any(
        error.startswith("rules/flags.yaml:") and "test 'age 65' failed" in error for error in refused.value.errors
    )
    assert stored_versions(app) == []


# --- The files on disk after the first start ----------------------------------------------------------


def test_a_valid_edit_of_the_files_is_reported_unpublished_and_changes_nothing(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    good = registry.require(NOW)
    edit(rules / "flags.yaml", *WORDING)
    for _ in range(2):
        assert registry.current(NOW) is good
    assert stored_versions(app) == [good.version] and len(activation_kinds(app)) == 1
    assert registry.files_state == "unpublished"
    assert registry.files_version == version_of(read_sources(rules))
    [row] = worker_rows(app)
    assert (row.name, row.version, row.files_state) == (registry.name, good.version, "unpublished")
    assert row.files_version == registry.files_version and row.failure_version is None
    restarted = registry_for(app, rules)
    assert restarted.require(NOW).version == good.version  # a restart does not activate the files either
    assert restarted.files_state == "unpublished"


def test_invalid_files_are_reported_with_their_errors_once_per_version(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    good = registry.require(NOW)
    edit(rules / "candidates.yaml", *UNKNOWN_FACT)
    for _ in range(3):
        assert registry.current(NOW) is good
    assert registry.files_state == "invalid"
    [failure] = failures(app)
    invalid = version_of(read_sources(rules))
    assert failure.version == invalid
    assert failure.errors[0].startswith("rules/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'")
    [row] = worker_rows(app)
    assert (row.version, row.files_state, row.files_version) == (good.version, "invalid", invalid)
    assert (row.failure_version, row.failure_errors) == (invalid, failure.errors)
    edit(rules / "candidates.yaml", "phq9x", "phq9")  # fixed: the same content as the active version
    assert registry.current(NOW) is good
    assert registry.files_state == "active"
    edit(rules / "flags.yaml", *WORDING)
    registry.current(NOW)
    assert registry.files_state == "unpublished"
    assert len(failures(app)) == 1 and stored_versions(app) == [good.version]


# --- Switching with the database --------------------------------------------------------------------


def test_a_new_activation_in_the_database_switches_the_registry(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    first = registry.require(NOW)
    second = activate(app, edited(read_sources(rules), "flags.yaml", *WORDING))
    assert registry.current(NOW).version == second  # type: ignore[union-attr]
    assert registry.files_state == "unpublished"  # the files on disk are the first version still
    assert worker_rows(app)[0].version == second
    third = activate(app, read_sources(rules), kind=store.ROLLBACK)
    assert third == first.version
    assert registry.current(NOW).version == first.version  # type: ignore[union-attr]
    assert registry.files_state == "active"


def test_a_draft_approved_by_a_second_person_switches_the_registry(app: Flask, rules: Path, users: Users) -> None:
    registry = registry_for(app, rules)
    first = registry.require(NOW)
    author, physician = users.create("staff"), users.create("physician")
    published = publish_through_a_draft(app, author, physician, "flags.yaml", *WORDING)
    assert registry.current(NOW).version == published  # type: ignore[union-attr]
    assert [kind for kind, _ in activation_kinds(app)] == [store.BOOTSTRAP, store.PUBLISH]
    roll_back(app, author, first.version)
    assert registry.current(NOW).version == first.version  # type: ignore[union-attr]
    assert activation_kinds(app)[-1] == (store.ROLLBACK, first.version)
    with new_session(app) as session:
        actions = list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-3:] == ["ruleset.approved", "ruleset.activated", "ruleset.rolled_back"]


def test_a_stored_version_that_does_not_load_keeps_the_current_one(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    registry.require(NOW)
    good = activate(app, edited(read_sources(rules), "flags.yaml", *WORDING))
    assert registry.current(NOW).version == good  # type: ignore[union-attr]
    broken_sources = edited(read_sources(rules), "candidates.yaml", *UNKNOWN_FACT)
    broken = activate(app, broken_sources)
    for _ in range(2):
        assert registry.current(NOW).version == good  # type: ignore[union-attr]
    [failure] = failures(app)
    assert failure.version == broken and "unknown fact 'phq9x'" in failure.errors[0]
    assert registry.last_failure is not None and registry.last_failure.version == broken
    [row] = worker_rows(app)
    assert (row.version, row.failure_version) == (good, broken)
    restarted = registry_for(app, rules)  # a new process: the newest earlier activation that loads
    assert restarted.require(NOW).version == good
    assert restarted.last_failure is not None and restarted.last_failure.version == broken


# --- Several processes on one database --------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from screening import create_app
    from screening.active_rules import active_ruleset, mark_serving
    app = create_app({"SECRET_KEY": "k", "DATABASE_URL": sys.argv[1], "RULES_DIR": sys.argv[2], "RULES_CHECK_SECONDS": 0})
    mark_serving(app)  # a web worker: it serves, so it reports itself
    for line in sys.stdin:
        with app.app_context():
            ruleset = active_ruleset()
        print(ruleset.version if ruleset else "none", flush=True)
    """
)


class Worker:
    """A separate process running the app, asked for its active version line by line."""

    def __init__(self, url: str, rules: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(rules)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def version(self) -> str:
        """Return the version the worker decides with now."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def stop(self) -> None:
        """End the worker."""
        self.process.communicate(timeout=30)


def test_every_worker_process_switches_on_publish_and_on_rollback(app: Flask, rules: Path, users: Users) -> None:
    author, physician = users.create("staff"), users.create("physician")
    workers = [Worker(app.config["DATABASE_URL"], rules) for _ in range(2)]
    try:
        first = version_of(read_sources(rules))
        assert [w.version() for w in workers] == [first, first]
        edit(rules / "flags.yaml", "Aged 65 or over: less data", "Aged 65 or over: scarce data")
        assert [w.version() for w in workers] == [first, first]  # files on disk switch nobody
        second = publish_through_a_draft(app, author, physician, "flags.yaml", *WORDING)
        assert [w.version() for w in workers] == [second, second]
        roll_back(app, author, first)
        assert [w.version() for w in workers] == [first, first]
    finally:
        for worker in workers:
            worker.stop()
    assert stored_versions(app) == [first, second]
    assert [kind for kind, _ in activation_kinds(app)] == [store.BOOTSTRAP, store.PUBLISH, store.ROLLBACK]
    rows = worker_rows(app)
    assert len(rows) == 2 and len({row.name for row in rows}) == 2  # each process reports itself
    assert all(row.version == first and row.files_state == "unpublished" for row in rows)


# --- Which processes are listed as workers ------------------------------------------------------------


def test_a_command_line_process_is_not_listed_as_a_worker(app: Flask, runner: FlaskCliRunner, auth: Auth) -> None:
    result = runner.invoke(args=["rules", "activate"])
    assert result.exit_code == 0, result.output
    assert "Active rule set:" in result.output
    assert worker_rows(app) == []  # `rules activate` and `seed` serve nobody: the rules home must not list them
    auth.login_as("staff")
    assert auth.client.get("/rules/").status_code == 200  # the same app serving a request reports itself
    [row] = worker_rows(app)
    assert row.version is not None
