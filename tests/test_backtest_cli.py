"""``flask rules backtest``: the dry run from the command line, printed like the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import new_session
from screening.models import BacktestRun
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.engine.loader import read_sources

from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import rules_version
from .test_backtest import FIXTURE
from .test_backtest import NOTE_WORDS
from .test_backtest import NOW
from .test_backtest import fibromyalgia_moved
from .test_backtest import reference
from .test_backtest import references_of
from .test_backtest import store_fixture


@pytest.fixture(autouse=True)
def one_process(app: Flask) -> None:
    """Run dry runs inside the test process."""
    app.config["BACKTEST_PROCESSES"] = 1


@pytest.fixture()
def stored(app: Flask) -> Flask:
    """Return the app with the shipped rules active and the fixture set stored."""
    require_ruleset(app)
    store_fixture(app)
    return app


def table(output: str) -> dict[str, tuple[int, int, str]]:
    """Return the outcome table of the output: outcome -> (before, after, difference)."""
    rows = re.findall(r"^([a-z_]+) +(\d+) +(\d+) +([+-]?\d+)$", output, flags=re.MULTILINE)
    return {name: (int(before), int(after), difference) for name, before, after, difference in rows}


def transitions(output: str) -> dict[tuple[str, str], int]:
    """Return the from -> to table of the output."""
    rows = re.findall(r"^([a-z_]+) -> ([a-z_]+) +(\d+)", output, flags=re.MULTILINE)
    return {(before, after): int(count) for before, after, count in rows}


def changed(output: str) -> list[str]:
    """Return the references of the changed submissions listed in the output."""
    return re.findall(r"^([A-Z0-9]{4}-[A-Z0-9]{4})  ", output, flags=re.MULTILINE)


def test_backtest_prints_counts_transitions_and_changed_references(
    stored: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rules = fibromyalgia_moved(tmp_path)
    result = runner.invoke(args=["rules", "backtest", str(rules)])
    assert result.exit_code == 0, result.output
    assert table(result.output) == {
        "safety": (2, 2, "0"),
        "contraindication_review": (2, 2, "0"),
        "candidate": (3, 3, "0"),
        "manual_review": (0, 0, "0"),
        "counseling": (4, 0, "-4"),
        "not_candidate": (4, 8, "+4"),
    }
    assert transitions(result.output) == {
        ("counseling", "not_candidate"): 4,
        ("safety", "safety"): 2,
        ("contraindication_review", "contraindication_review"): 2,
        ("candidate", "candidate"): 3,
        ("not_candidate", "not_candidate"): 4,
    }
    assert "counseling -> not_candidate" in result.output.split("From -> to")[1].splitlines()[1]
    assert changed(result.output) == references_of("fibromyalgia_alone")
    assert "4 submission(s) would change outcome." in result.output
    assert "rules before: fibromyalgia-counseling (counseling)" in result.output
    assert "rules after:  fibromyalgia-counseling (not_candidate)" in result.output
    assert "facts: fibromyalgia_acr2016=true, trd=false, phq9=0, gad7=0, adequate_failed_trials=0" in result.output
    assert f"against {rules_version()} (active)" in result.output and "Submissions: 15 (all dates)" in result.output
    assert "Evaluating" not in result.output  # no terminal: no progress bar
    for word in NOTE_WORDS:
        assert word not in result.output
    with new_session(stored) as session:
        run = session.scalars(sa.select(BacktestRun)).one()
    assert (run.status, run.created_by, run.processed, run.total) == ("done", "cli", 15, 15)
    assert run.candidate_sources == read_sources(rules)


def test_backtest_against_an_older_stored_version(stored: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    older = read_sources(fibromyalgia_moved(tmp_path))
    with new_session(stored) as session:
        version = store.store_version(session, older, origin="draft", now=NOW)
        session.commit()
        text = version.version
    result = runner.invoke(args=["rules", "backtest", "--against", text.removeprefix("sha256:")[:12]])
    assert result.exit_code == 0, result.output
    assert f"against {text}\n" in result.output
    assert transitions(result.output)[("not_candidate", "counseling")] == 4
    assert table(result.output)["counseling"] == (0, 4, "+4")
    assert changed(result.output) == references_of("fibromyalgia_alone")
    assert "rules after:  fibromyalgia-counseling (counseling)" in result.output


def test_backtest_of_a_date_range(stored: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = fibromyalgia_moved(tmp_path)
    result = runner.invoke(args=["rules", "backtest", "--from", "2026-10-04", "--to", "2026-10-11", str(rules)])
    assert result.exit_code == 0, result.output
    assert "Submissions: 8 (sent 2026-10-04 to 2026-10-11)" in result.output
    assert sum(before for before, _, _ in table(result.output).values()) == len(FIXTURE[3:11]) == 8
    assert changed(result.output) == [reference(4), reference(9)]
    only_from = runner.invoke(args=["rules", "backtest", "--from", "2026-10-12", str(rules)])
    assert only_from.exit_code == 0, only_from.output
    assert "Submissions: 4 (sent on or after 2026-10-12)" in only_from.output
    assert changed(only_from.output) == [reference(14)]


def test_backtest_of_the_active_rules_changes_nothing(stored: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["rules", "backtest"])
    assert result.exit_code == 0, result.output
    assert "0 submission(s) would change outcome." in result.output
    assert all(difference == "0" for _, _, difference in table(result.output).values())
    assert changed(result.output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--against", "zzz"], "Error: 'zzz' is not a version: give its hash or at least 6 of its first digits"),
        (["--against", "abcdef123456"], "Error: no stored version starts with sha256:abcdef123456"),
        (["--from", "2026-13-01"], "Error: --from: '2026-13-01' is not a date; use YYYY-MM-DD"),
        (["--to", "1.10.2026"], "Error: --to: '1.10.2026' is not a date; use YYYY-MM-DD"),
        (["--from", "2026-10-05", "--to", "2026-10-04"], "Error: --from 2026-10-05 is after --to 2026-10-04"),
        (["/no/such/rules"], "Error: /no/such/rules: no such file or directory"),
    ],
)
def test_backtest_refuses_bad_arguments_in_one_line(
    stored: Flask, runner: FlaskCliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["rules", "backtest", *args])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [message]
    with new_session(stored) as session:
        assert session.scalars(sa.select(BacktestRun)).all() == []


def test_backtest_of_invalid_rules_prints_every_error_first(
    stored: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    edit(rules / "flags.yaml", "when: age >= 65", 'when: age >= "65"')
    result = runner.invoke(args=["rules", "backtest", str(rules)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and lines[-1] == "Error: 2 problem(s) in the rule files"
    assert f"{rules}/candidates.yaml:" in lines[0] and "unknown fact 'phq9x'" in lines[0]
    assert f"{rules}/flags.yaml:" in lines[1] and "type mismatch" in lines[1]


def test_backtest_of_rules_whose_own_tests_fail(stored: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "fibromyalgia.yaml", "    outcome: counseling\n", "    outcome: not_candidate\n")
    result = runner.invoke(args=["rules", "backtest", str(rules)])
    assert result.exit_code == 1
    assert "test 'fibromyalgia alone gets the candid counseling note' failed" in result.output
    assert result.output.strip().splitlines()[-1].endswith("problem(s) in the rule files")


def test_backtest_needs_an_active_version(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["rules", "backtest"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no rule set version is active yet: name one with --against VERSION"
    ]
