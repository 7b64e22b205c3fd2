"""The ``seed`` command: fake submissions decided by the active rules, the count and time printed, repeatable."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import engine_for
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import Decision
from screening.models import Submission
from screening.active_rules import require_ruleset

from .conftest import make_app

PRINTED = re.compile(r"^Seeded (\d+) submissions \(seed (\d+), rule set sha256:[0-9a-f]{12}\) in \d+\.\d s\.$")


def stored(app: Flask) -> list[tuple[str | None, str, str | None]]:
    """Return (outcome, status, decision outcome) of every submission, in id order."""
    with new_session(app) as session:
        query = (
            sa.select(Submission.outcome, Submission.status, Decision.outcome).join(Decision).order_by(Submission.id)
        )
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_seed_adds_decided_submissions_and_prints_count_and_time(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed", "--count", "25", "--seed", "9"])
    assert result.exit_code == 0, result.output
    found = PRINTED.match(result.output.strip())
    assert found is not None, result.output
    assert found.groups() == ("25", "9")
    rows = stored(app)
    assert len(rows) == 25 and all(status == "open" for _, status, _ in rows)
    assert all(outcome == decided for outcome, _, decided in rows)
    with new_session(app) as session:
        versions = set(session.scalars(sa.select(Decision.ruleset_version)))
        seeded = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "submissions.seeded")).all()
    assert versions == {require_ruleset(app).version}
    assert [(event.actor, event.details["count"], event.details["seed"]) for event in seeded] == [("cli", 25, 9)]


def test_the_same_seed_gives_the_same_outcomes(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["seed", "--count", "12", "--seed", "4"]).exit_code == 0
    first = stored(app)
    assert runner.invoke(args=["seed", "--count", "12", "--seed", "4"]).exit_code == 0
    assert stored(app)[12:] == first


def test_without_a_seed_one_is_chosen_and_printed(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed", "--count", "3"])
    assert result.exit_code == 0, result.output
    assert PRINTED.match(result.output.strip()) is not None, result.output


def test_a_count_below_one_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    for args in (["seed", "--count", "0"], ["seed"], ["seed", "--count", "many"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 2, result.output
    assert stored(app) == []


def test_without_valid_rules_nothing_is_seeded(app: Flask, tmp_path: Path) -> None:
    broken = make_app(app.config["DATABASE_URL"], RULES_DIR=str(tmp_path))
    try:
        result = broken.test_cli_runner().invoke(args=["seed", "--count", "5"])
    finally:
        engine_for(broken).dispose()
    assert result.exit_code == 1
    assert "No valid rule set is available" in result.output
    assert stored(app) == []
