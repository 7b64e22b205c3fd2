"""Activating rule sets: tests must pass, versions are stored, reloads reach every process, last good stays."""

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

from screening.db import new_session
from screening.models import AuditEvent
from screening.models import RulesLoadFailure
from screening.models import RuleSetVersion
from screening.ruleset.loader import read_sources
from screening.ruleset.loader import version_of
from screening.ruleset.registry import Registry
from screening.ruleset.registry import RulesUnavailable

from .ruleset_files import copy_rules
from .ruleset_files import edit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    """Return a private copy of the shipped rules directory."""
    return copy_rules(tmp_path)


def registry_for(app: Flask, rules: Path) -> Registry:
    """Return a registry on the app's database that re-reads the files at every call."""
    return Registry(rules, lambda: new_session(app), check_seconds=0)


def stored_versions(app: Flask) -> list[str]:
    """Return the stored versions, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(RuleSetVersion.version).order_by(RuleSetVersion.id)))


def failures(app: Flask) -> list[RulesLoadFailure]:
    """Return the recorded load failures, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(RulesLoadFailure).order_by(RulesLoadFailure.id)))


def test_valid_files_are_activated_stored_and_audited(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    ruleset = registry.require(NOW)
    assert ruleset.version == version_of(read_sources(rules))
    assert stored_versions(app) == [ruleset.version]
    with new_session(app) as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "ruleset.activated")).one()
        stored = session.scalars(sa.select(RuleSetVersion)).one()
    assert event.details["version"] == ruleset.version and event.subject_id == stored.id
    assert stored.sources == read_sources(rules)
    registry.require(NOW)
    assert stored_versions(app) == [ruleset.version]  # stored once


def test_a_file_whose_own_tests_fail_is_not_activated(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    good = registry.require(NOW)
    edit(rules / "flags.yaml", "when: age >= 65", "when: age >= 66")  # loads, but its test "age 65" fails
    assert registry.current(NOW) is good
    assert stored_versions(app) == [good.version]
    [failure] = failures(app)
    assert failure.version == version_of(read_sources(rules))
    assert any("test 'age 65' failed" in error and error.startswith("rules/flags.yaml:") for error in failure.errors)
    assert registry.last_failure is not None and registry.last_failure.errors == failure.errors


def test_invalid_files_keep_the_last_good_version_and_record_errors_once(app: Flask, rules: Path) -> None:
    registry = registry_for(app, rules)
    good = registry.require(NOW)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    for _ in range(3):
        assert registry.current(NOW) is good
    [failure] = failures(app)
    assert failure.errors[0].startswith("rules/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'")
    edit(rules / "candidates.yaml", "phq9x", "phq9")
    assert registry.current(NOW) is good  # back to the same content: same version


def test_first_start_with_invalid_files_and_no_stored_version_refuses(app: Flask, rules: Path) -> None:
    edit(rules / "safety.yaml", "when: phq9_item9 >= 1", "when: phq9_item9 >= 2")
    with pytest.raises(RulesUnavailable) as refused:
        registry_for(app, rules).require(NOW)
    assert any("the locked safety rule must read exactly" in error for error in refused.value.errors)


def test_first_start_with_invalid_files_uses_the_last_stored_version(app: Flask, rules: Path) -> None:
    good = registry_for(app, rules).require(NOW)
    edit(rules / "safety.yaml", "when: phq9_item9 >= 1", "when: phq9_item9 >= 2")
    restarted = registry_for(app, rules)
    assert restarted.require(NOW).version == good.version
    assert restarted.last_failure is not None


WORKER = textwrap.dedent(
    """
    import sys
    from screening import create_app
    from screening.rules import active_ruleset
    app = create_app({"SECRET_KEY": "k", "DATABASE_URL": sys.argv[1], "RULES_DIR": sys.argv[2], "RULES_CHECK_SECONDS": 0})
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


def test_every_worker_process_switches_without_a_restart(app: Flask, rules: Path) -> None:
    workers = [Worker(app.config["DATABASE_URL"], rules) for _ in range(2)]
    try:
        first = version_of(read_sources(rules))
        assert [w.version() for w in workers] == [first, first]
        edit(rules / "flags.yaml", "Aged 65 or over: less data", "Aged 65 or over: fewer data")
        second = version_of(read_sources(rules))
        assert [w.version() for w in workers] == [second, second]
        edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
        assert [w.version() for w in workers] == [second, second]  # last good stays in both
    finally:
        for worker in workers:
            worker.stop()
    assert stored_versions(app) == [first, second]
    recorded = failures(app)
    assert len({failure.worker for failure in recorded}) == 2  # each process recorded why it kept the old one
    assert all("unknown fact 'phq9x'" in failure.errors[0] for failure in recorded)
