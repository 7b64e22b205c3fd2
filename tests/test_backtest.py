"""Dry runs: counts, transitions and changed submissions of a rule change against stored submissions."""

from __future__ import annotations

import copy
import json
import multiprocessing
from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from screening.db import new_session
from screening.fake import answers_documents
from screening.instruments.scoring import score_answers
from screening.models import AuditEvent
from screening.models import BacktestRun
from screening.models import RuleSetVersion
from screening.models import Submission
from screening.active_rules import require_ruleset
from screening.engine import dry_run_comparison
from screening.active_rules import store
from screening.engine.dry_run import Backtest
from screening.engine.dry_run import compare
from screening.engine.dry_run_comparison import Comparison
from screening.engine.evaluation import screen_answers
from screening.engine.loader import Sources
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.model import RuleSet
from screening.active_rules.registry import checked_ruleset
from screening.tuning import dry_run_reports
from screening.tuning import dry_run_store
from screening.tuning import dry_runs
from screening.tuning.errors import TuningInvalid
from screening.tuning.errors import TuningNotFound

from .patient import FIBROMYALGIA
from .ruleset_files import RULES
from .ruleset_files import SLOW_RULE
from .ruleset_files import add_flag
from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import slow_condition

#: Day 0 of the fixture set: submission number i was sent i days later.
START = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TRIALS = [
    {"drug": "sertraline", "dose_mg_per_day": 100, "weeks": 12, "improvement_pct": 10, "current_episode": True, "stopped_early": False},
    {"drug": "duloxetine", "dose_mg_per_day": 60, "weeks": 8, "improvement_pct": 20, "current_episode": True, "stopped_early": False},
]  # fmt: skip
DEPRESSED = [2, 2, 2, 1, 1, 1, 1, 0, 0]
#: Each kind of intake: how it changes the baseline answers (rules/baseline.yaml), and its outcome with the shipped rules.
KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "fibromyalgia_alone": (FIBROMYALGIA, "counseling"),
    "fibromyalgia_trd": ({**FIBROMYALGIA, "phq9": DEPRESSED, "medication_trials": TRIALS}, "candidate"),
    "trd": ({"phq9": DEPRESSED, "medication_trials": TRIALS}, "candidate"),
    "safety": ({"phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1]}, "safety"),
    "fibromyalgia_safety": ({**FIBROMYALGIA, "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 2]}, "safety"),
    "contraindication": ({"medical_history": ["psychosis"]}, "contraindication_review"),
    "fibromyalgia_pregnant": ({**FIBROMYALGIA, "pregnancy": "yes"}, "contraindication_review"),
    "plain": ({}, "not_candidate"),
    "glaucoma": ({"medical_history": ["glaucoma"]}, "not_candidate"),
}
#: The fixture set, in the order stored (submission i sent on day i): 15 submissions, 4 of them fibromyalgia alone.
FIXTURE = [
    "plain",
    "fibromyalgia_alone",
    "trd",
    "safety",
    "fibromyalgia_alone",
    "contraindication",
    "glaucoma",
    "fibromyalgia_trd",
    "plain",
    "fibromyalgia_alone",
    "fibromyalgia_safety",
    "trd",
    "fibromyalgia_pregnant",
    "plain",
    "fibromyalgia_alone",
]
#: The counts of the shipped rules over the fixture set.
SHIPPED_COUNTS = {
    "safety": 2,
    "contraindication_review": 2,
    "candidate": 3,
    "manual_review": 0,
    "counseling": 4,
    "not_candidate": 4,
}
#: The note of the fibromyalgia-alone rule: free text that a dry run must never copy.
NOTE_WORDS = ("preliminary", "short-lived", "988")


def shipped() -> RuleSet:
    """Return the shipped rule set."""
    return checked_ruleset(read_sources(RULES))


def document(kind: str) -> dict[str, Any]:
    """Return the answers document of one kind of intake: the baseline with the kind's changes."""
    return {**copy.deepcopy(shipped().baseline), **copy.deepcopy(KINDS[kind][0])}


def reference(index: int) -> str:
    """Return the reference code of fixture submission ``index``."""
    return f"BT{index:02d}-TEST"


def fixture_rows() -> list[tuple[str, datetime, dict[str, Any], dict[str, Any]]]:
    """Return the fixture set as stored rows: (reference, submitted_at, answers, scores)."""
    rows = []
    for index, kind in enumerate(FIXTURE):
        answers = document(kind)
        rows.append((reference(index), START + timedelta(days=index), answers, score_answers(answers).as_dict()))
    return rows


def references_of(kind: str) -> list[str]:
    """Return the references of the fixture submissions of one kind, in order."""
    return [reference(index) for index, name in enumerate(FIXTURE) if name == kind]


def store_fixture(app: Flask) -> None:
    """Store the fixture set as submissions decided by the shipped rules (checking each expected outcome)."""
    ruleset = shipped()
    with new_session(app) as session:
        for (ref, submitted_at, answers, scores), kind in zip(fixture_rows(), FIXTURE, strict=True):
            evaluation = screen_answers(answers, ruleset, scores).evaluation
            assert evaluation.outcome == KINDS[kind][1], kind
            session.add(
                Submission(
                    reference=ref,
                    submitted_at=submitted_at,
                    form_version="test",
                    answers=answers,
                    scores=scores,
                    safety_flag=scores["phq9_item9"] > 0,
                    outcome=evaluation.outcome,
                    priority=evaluation.priority,
                    needs_action=ruleset.outcomes[evaluation.outcome].needs_action,
                    status="open",
                )
            )
        session.commit()


def fibromyalgia_moved(tmp_path: Path, to: str = "not_candidate") -> Path:
    """Return a copy of the rules in which fibromyalgia alone gets ``to`` instead of counseling (cases too)."""
    rules = copy_rules(tmp_path)
    edit(rules / "fibromyalgia.yaml", "outcome: counseling", f"outcome: {to}", count=4)
    return rules


def glaucoma_held(tmp_path: Path) -> Path:
    """Return a copy of the rules whose contraindications table also holds glaucoma (cases too)."""
    rules = copy_rules(tmp_path)
    edit(rules / "tables" / "contraindications.yaml", "  - psychosis", "  - psychosis\n  - glaucoma")
    held = "expect: {outcome: contraindication_review, fired: [contraindication-history, flag-glaucoma]}"
    for name in ("contraindications.yaml", "flags.yaml"):
        edit(rules / name, "expect: {outcome: not_candidate, fired: [flag-glaucoma]}", held)
    return rules


def moved_counts() -> dict[str, int]:
    """Return the counts after fibromyalgia alone moved from counseling to not_candidate."""
    return {**SHIPPED_COUNTS, "counseling": 0, "not_candidate": 8}


def diagonal(counts: dict[str, int]) -> dict[tuple[str, str], int]:
    """Return the transitions of outcomes that stay the same."""
    return {(outcome, outcome): count for outcome, count in counts.items() if count}


# --- The comparison, without a database -------------------------------------------------------------


def test_a_rule_set_against_itself_changes_nothing() -> None:
    comparison = compare(shipped(), shipped(), fixture_rows())
    assert comparison.total == 15
    assert comparison.before == comparison.after == {k: v for k, v in SHIPPED_COUNTS.items() if v}
    assert comparison.transitions == diagonal(SHIPPED_COUNTS)
    assert (comparison.changed_total, comparison.changes) == (0, ())
    assert comparison.outcomes == (
        "safety",
        "contraindication_review",
        "candidate",
        "manual_review",
        "counseling",
        "not_candidate",
    )


def test_moving_fibromyalgia_alone_to_not_candidate(tmp_path: Path) -> None:
    candidate = checked_ruleset(read_sources(fibromyalgia_moved(tmp_path)))
    comparison = compare(candidate, shipped(), fixture_rows())
    assert comparison.before == {k: v for k, v in SHIPPED_COUNTS.items() if v}
    assert comparison.after == {k: v for k, v in moved_counts().items() if v}
    assert comparison.transitions == {
        **diagonal({**SHIPPED_COUNTS, "counseling": 0}),
        ("counseling", "not_candidate"): 4,
    }
    assert comparison.changed_total == 4
    assert [change.reference for change in comparison.changes] == references_of("fibromyalgia_alone")
    change = comparison.changes[0]
    assert (change.before, change.after, change.submitted_at) == (
        "counseling",
        "not_candidate",
        "2026-10-02T09:30:00+00:00",
    )
    assert [(r.rule, r.outcome) for r in change.rules_before] == [("fibromyalgia-counseling", "counseling")]
    assert [(r.rule, r.outcome) for r in change.rules_after] == [("fibromyalgia-counseling", "not_candidate")]
    assert change.facts == {
        "fibromyalgia_acr2016": True,
        "trd": False,
        "phq9": 0,
        "gad7": 0,
        "adequate_failed_trials": 0,
    }
    assert change.facts_changed == {}  # same tables: the same facts


def test_a_changed_condition_reports_the_facts_it_read(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "fibromyalgia.yaml", "    outcome: counseling\n", "    outcome: candidate\n")
    edit(
        rules / "fibromyalgia.yaml",
        "when: >-\n      fibromyalgia_acr2016\n",
        "when: >-\n      fibromyalgia_acr2016 and age < 100\n",
    )
    edit(rules / "fibromyalgia.yaml", "outcome: counseling", "outcome: candidate", count=3)
    candidate = checked_ruleset(read_sources(rules))
    comparison = compare(candidate, shipped(), fixture_rows())
    assert comparison.transitions[("counseling", "candidate")] == 4
    assert comparison.after["candidate"] == 7 and "counseling" not in comparison.after
    change = comparison.changes[0]
    assert [(r.rule, r.outcome) for r in change.rules_before] == [("fibromyalgia-counseling", "counseling")]
    assert [(r.rule, r.outcome) for r in change.rules_after] == [("fibromyalgia-counseling", "candidate")]
    assert change.facts["age"] == 40 and change.facts["fibromyalgia_acr2016"] is True


def test_a_changed_table_shows_the_facts_that_changed(tmp_path: Path) -> None:
    candidate = checked_ruleset(read_sources(glaucoma_held(tmp_path)))
    comparison = compare(candidate, shipped(), fixture_rows())
    assert comparison.transitions[("not_candidate", "contraindication_review")] == 1
    (change,) = comparison.changes
    assert change.reference == references_of("glaucoma")[0]
    assert [(r.rule, r.outcome) for r in change.rules_after] == [
        ("contraindication-history", "contraindication_review")
    ]
    assert change.rules_before == ()
    assert change.facts == {"contraindications": ["glaucoma"]}
    assert change.facts_changed == {"contraindications": ([], ["glaucoma"])}


def test_the_comparison_agrees_with_the_engine_on_realistic_intakes(tmp_path: Path) -> None:
    candidate = checked_ruleset(read_sources(glaucoma_held(tmp_path)))
    documents = answers_documents(400, seed=7)
    rows = [(f"R{i}", NOW, d, score_answers(d).as_dict()) for i, d in enumerate(documents)]
    comparison = compare(candidate, shipped(), rows)
    before = Counter(screen_answers(d, shipped(), s).evaluation.outcome for _, _, d, s in rows)
    after = Counter(screen_answers(d, candidate, s).evaluation.outcome for _, _, d, s in rows)
    assert comparison.before == dict(before) and comparison.after == dict(after)
    changed = [r for r, _, d, s in rows if screen_answers(d, shipped(), s).evaluation.outcome != screen_answers(d, candidate, s).evaluation.outcome]  # fmt: skip
    assert [change.reference for change in comparison.changes] == changed and changed


def test_an_evaluation_that_raises_gets_the_error_outcome(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(
        rules / "flags.yaml",
        "rules:\n",
        "rules:\n  - id: flag-ratio\n    description: Age per month of pain.\n"
        "    when: age / pain_duration_months > 100\n    notes: [{audience: physician, text: ratio}]\n",
    )
    candidate = load_ruleset(read_sources(rules))  # its own test cases would fail: load without them
    rows = fixture_rows()[:3]  # plain (no pain: division by zero), fibromyalgia alone (48 months), trd
    broken = ("BT99-TEST", START, {"age": 40}, {"phq9_item9": 0})
    comparison = compare(candidate, shipped(), [*rows, broken])
    assert comparison.total == 4
    assert comparison.transitions == {
        ("not_candidate", "manual_review"): 1,  # the plain one: no months of pain
        ("candidate", "manual_review"): 1,  # the trd one: no months of pain either
        ("counseling", "counseling"): 1,
        ("manual_review", "manual_review"): 1,  # the broken stored answers
    }
    assert (comparison.errors_before, comparison.errors_after) == (1, 3)
    assert [(c.reference, c.error_before, c.error_after) for c in comparison.changes] == [
        (reference(0), None, "ArithmeticError"),
        (reference(2), None, "ArithmeticError"),
    ]
    assert comparison.changes[0].rules_before == comparison.changes[0].rules_after == ()


def test_chunks_merge_into_the_whole_and_survive_json(tmp_path: Path) -> None:
    candidate = checked_ruleset(read_sources(fibromyalgia_moved(tmp_path)))
    rows = fixture_rows()
    whole = compare(candidate, shipped(), rows)
    runner = Backtest(candidate, shipped())
    parts = (
        runner.empty()
        .merge(runner.compare(rows[:5]))
        .merge(runner.compare(rows[5:11]))
        .merge(runner.compare(rows[11:]))
    )
    assert parts == whole
    stored = json.loads(json.dumps(whole.as_dict()))
    assert Comparison.from_dict(stored) == whole


def test_the_list_of_changes_is_capped_but_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dry_run_comparison, "CHANGES_LIMIT", 3)
    candidate = checked_ruleset(read_sources(fibromyalgia_moved(tmp_path)))
    rows = fixture_rows()
    runner = Backtest(candidate, shipped())
    merged = runner.compare(rows[:5]).merge(runner.compare(rows[5:]))
    assert merged.changed_total == 4 and merged.truncated
    assert [change.reference for change in merged.changes] == references_of("fibromyalgia_alone")[:3]
    report = dry_run_reports.Report.of(merged)
    assert report.truncation_note == "Showing the first 3 of 4 changed submissions."
    assert dry_run_reports.Report.of(compare(candidate, candidate, rows)).truncation_note is None


def test_changes_hold_references_rules_and_facts_never_answers_or_notes(tmp_path: Path) -> None:
    candidate = checked_ruleset(read_sources(fibromyalgia_moved(tmp_path)))
    stored = json.dumps(compare(candidate, shipped(), fixture_rows()).as_dict())
    for word in (*NOTE_WORDS, "pain_areas", "shoulder_girdle_left", "medication_trials", "sertraline", "sss"):
        assert word not in stored
    (change, *_) = json.loads(stored)["changes"]
    assert set(change) == {
        "reference",
        "submitted_at",
        "before",
        "after",
        "rules_before",
        "rules_after",
        "facts",
        "facts_changed",
        "error_before",
        "error_after",
    }


# --- Stored runs ------------------------------------------------------------------------------------


@pytest.fixture()
def stored(app: Flask) -> Flask:
    """Return the app with the fixture set stored, the shipped rules active, and dry runs in this process."""
    app.config["BACKTEST_PROCESSES"] = 1
    require_ruleset(app)
    store_fixture(app)
    return app


def active_version(session: orm.Session) -> RuleSetVersion:
    """Return the active stored version."""
    current = store.active(session)
    assert current is not None
    return current.version


def start(
    app: Flask,
    sources: Sources,
    *,
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
    against: RuleSetVersion | None = None,
) -> int:
    """Store a queued dry run against the active version and return its id."""
    with new_session(app) as session:
        run = dry_run_store.start_backtest(
            session,
            candidate_sources=sources,
            against=against or active_version(session),
            actor="user:1",
            now=NOW,
            submitted_from=submitted_from,
            submitted_to=submitted_to,
        )
        session.commit()
        assert (run.status, run.processed, run.created_by) == ("queued", 0, "user:1")
        return run.id


def fetch(app: Flask, run_id: int) -> BacktestRun:
    """Return a run as stored."""
    with new_session(app) as session:
        return dry_run_store.get_run(session, run_id)


def report_of(app: Flask, run: BacktestRun) -> dry_run_reports.Report | None:
    """Return the report of a run as stored, every change included."""
    with new_session(app) as session:
        return dry_run_reports.report(session, run)


def test_a_queued_run_counts_outcomes_and_transitions(stored: Flask, tmp_path: Path) -> None:
    sources = read_sources(fibromyalgia_moved(tmp_path))
    run_id = start(stored, sources)
    assert fetch(stored, run_id).total == 15
    dry_runs.enqueue_backtest(stored, run_id)  # tasks run at once in tests
    run = fetch(stored, run_id)
    assert (run.status, run.error, run.total, run.processed) == ("done", None, 15, 15)
    assert run.candidate_sources == sources and run.candidate_version == checked_ruleset(sources).version
    report = report_of(stored, run)
    assert report is not None
    assert [(row.outcome, row.before, row.after, row.difference) for row in report.outcomes] == [
        ("safety", 2, 2, 0),
        ("contraindication_review", 2, 2, 0),
        ("candidate", 3, 3, 0),
        ("manual_review", 0, 0, 0),
        ("counseling", 4, 0, -4),
        ("not_candidate", 4, 8, 4),
    ]
    assert [(row.before, row.after, row.count) for row in report.transitions] == [
        ("counseling", "not_candidate", 4),
        ("safety", "safety", 2),
        ("contraindication_review", "contraindication_review", 2),
        ("candidate", "candidate", 3),
        ("not_candidate", "not_candidate", 4),
    ]
    assert [change.reference for change in report.changes] == references_of("fibromyalgia_alone")
    assert report.changed_total == 4 and report.truncation_note is None
    with new_session(stored) as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "ruleset.backtest_started")).one()
    assert (event.subject_id, event.details["candidate"]) == (run_id, run.candidate_version)


def test_a_dry_run_reads_each_submissions_stored_context_facts(stored: Flask, tmp_path: Path) -> None:
    outside = references_of("fibromyalgia_alone")[0]
    with new_session(stored) as session:
        submission = session.scalars(sa.select(Submission).where(Submission.reference == outside)).one()
        submission.context_facts = {"in_service_area": False}
        session.commit()
    rules = copy_rules(tmp_path)  # counseling only for patients the clinic can see
    edit(
        rules / "fibromyalgia.yaml", "      fibromyalgia_acr2016\n", "      fibromyalgia_acr2016 and in_service_area\n"
    )
    run_id = start(stored, read_sources(rules))
    dry_runs.enqueue_backtest(stored, run_id)
    report = report_of(stored, fetch(stored, run_id))
    assert report is not None
    assert [(change.reference, change.before, change.after) for change in report.changes] == [
        (outside, "counseling", "not_candidate")
    ]


def test_a_date_range_limits_the_submissions(stored: Flask, tmp_path: Path) -> None:
    first, last = dry_run_store.day_range(START.date() + timedelta(days=3), START.date() + timedelta(days=10))
    run_id = start(stored, read_sources(fibromyalgia_moved(tmp_path)), submitted_from=first, submitted_to=last)
    assert fetch(stored, run_id).total == 8
    run = dry_runs.run_backtest(stored, run_id)
    report = report_of(stored, run)
    assert report is not None and report.total == 8
    in_range = FIXTURE[3:11]
    expected = Counter(KINDS[kind][1] for kind in in_range)
    assert {row.outcome: row.before for row in report.outcomes if row.before} == dict(expected)
    assert [change.reference for change in report.changes] == [reference(4), reference(9)]
    assert {(row.before, row.after): row.count for row in report.transitions if row.changed} == {
        ("counseling", "not_candidate"): 2
    }


def test_a_date_range_must_not_end_before_it_starts(stored: Flask) -> None:
    with new_session(stored) as session, pytest.raises(TuningInvalid):
        dry_run_store.start_backtest(
            session,
            candidate_sources=read_sources(RULES),
            against=active_version(session),
            actor="cli",
            now=NOW,
            submitted_from=START,
            submitted_to=START - timedelta(days=1),
        )


def test_progress_is_committed_after_every_chunk(stored: Flask, tmp_path: Path) -> None:
    stored.config["BACKTEST_CHUNK_SIZE"] = 4
    run_id = start(stored, read_sources(fibromyalgia_moved(tmp_path)))
    seen: list[tuple[int, int, str, int]] = []

    def progress(processed: int, total: int) -> None:
        row = fetch(stored, run_id)  # another session: only committed progress is visible
        seen.append((processed, total, row.status, row.processed))
        assert row.progress_at is not None and row.started_at is not None and row.finished_at is None

    run = dry_runs.run_backtest(stored, run_id, progress=progress)
    assert seen == [(4, 15, "running", 4), (8, 15, "running", 8), (12, 15, "running", 12), (15, 15, "running", 15)]
    assert run.status == "done" and run.finished_at is not None and run.progress_at is not None
    assert dry_run_reports.percent_done(run) == 100
    report = report_of(stored, run)
    assert report is not None and [c.reference for c in report.changes] == references_of("fibromyalgia_alone")


def test_stored_answers_that_cannot_be_evaluated_get_the_error_outcome(stored: Flask) -> None:
    with new_session(stored) as session:
        session.add(
            Submission(
                reference="BT99-TEST",
                submitted_at=START,
                form_version="test",
                answers={"age": 40},
                scores={},
                safety_flag=False,
                status="open",
            )
        )
        session.commit()
    run = dry_runs.run_backtest(stored, start(stored, read_sources(RULES)))
    report = report_of(stored, run)
    assert report is not None and run.status == "done"
    assert {row.outcome: row.after for row in report.outcomes if row.after}["manual_review"] == 1
    assert (report.errors_before, report.errors_after, report.changed_total) == (1, 1, 0)
    assert ("manual_review", "manual_review", 1) in [(t.before, t.after, t.count) for t in report.transitions]


def test_two_worker_processes_give_the_same_result_as_one(
    stored: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = read_sources(glaucoma_held(tmp_path))
    one = dry_runs.run_backtest(stored, start(stored, sources))
    contexts: list[str | None] = []
    get_context = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        contexts.append(method)
        return get_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)
    stored.config.update(BACKTEST_PROCESSES=2, BACKTEST_CHUNK_SIZE=4, BACKTEST_PARALLEL_FROM=0)
    two = dry_runs.run_backtest(stored, start(stored, sources))
    assert set(contexts) == {"forkserver"}  # never "fork": the caller may be a threaded task consumer
    assert (one.status, two.status) == ("done", "done")
    assert report_of(stored, two) == report_of(stored, one)
    assert two.processed == 15


def store_aged(app: Flask, age: int) -> None:
    """Store one more submission: the baseline answers of a person of ``age``, with symptoms for 7 months."""
    answers = {**document("plain"), "age": age, "pain_duration_months": 7}
    with new_session(app) as session:
        session.add(
            Submission(
                reference=f"BT{age}-TEST",
                submitted_at=START,
                form_version="test",
                answers=answers,
                scores=score_answers(answers).as_dict(),
                safety_flag=False,
                status="open",
            )
        )
        session.commit()


def slow_candidate(tmp_path: Path, *, depth: int = 2) -> tuple[Sources, tuple[int, int]]:
    """Return rules whose condition is slow only from age 62 with symptoms for 7 months: neither their test cases
    nor the check's generated answers have that, a stored submission does."""
    rules = copy_rules(tmp_path)
    where = add_flag(rules / "flags.yaml", slow_condition("age >= 62 and pain_duration_months == 7", depth=depth))
    return read_sources(rules), where


@pytest.mark.parametrize("processes", [1, 2])
def test_a_condition_over_the_budget_fails_the_run_naming_the_rule(
    stored: Flask, tmp_path: Path, processes: int
) -> None:
    store_aged(stored, 62)
    sources, (line, column) = slow_candidate(tmp_path)
    stored.config.update(RULES_EVALUATION_MS=100, BACKTEST_PROCESSES=processes, BACKTEST_PARALLEL_FROM=0)
    stored.config.update(BACKTEST_CHUNK_SIZE=4)
    run = dry_runs.run_backtest(stored, start(stored, sources))
    assert (run.status, run.result) == ("failed", None) and run.finished_at is not None
    assert run.error == (
        f"The dry run was stopped: flags.yaml:{line}:{column}: {SLOW_RULE}: "
        "this condition took more than 100 ms for one submission; simplify it"
    )


def test_a_run_over_its_total_time_is_stopped_naming_the_rule(stored: Flask, tmp_path: Path) -> None:
    for age in (62, 63, 64):  # the condition takes about a second for each of them
        store_aged(stored, age)
    sources, (line, column) = slow_candidate(tmp_path)
    stored.config.update(RULES_EVALUATION_MS=600_000, RULES_DRY_RUN_SECONDS=1)
    run = dry_runs.run_backtest(stored, start(stored, sources))
    assert run.status == "failed" and run.error == (
        f"The dry run was stopped: flags.yaml:{line}:{column}: {SLOW_RULE}: "
        "the dry run took more than 1 s in all and was stopped while evaluating this condition; simplify it"
    )


def test_rows_of_a_database_the_workers_cannot_open_are_read_here_and_sent(
    stored: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = read_sources(glaucoma_held(tmp_path))
    opened = dry_runs.run_backtest(stored, start(stored, sources))
    monkeypatch.setattr(dry_runs, "_in_memory", lambda url: True)  # as for an in-memory SQLite database
    sent = dry_runs.run_backtest(stored, start(stored, sources))
    assert (opened.status, sent.status) == ("done", "done") and report_of(stored, sent) == report_of(stored, opened)


def test_a_candidate_that_does_not_load_fails_with_the_loader_messages(stored: Flask, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    run = dry_runs.run_backtest(stored, start(stored, read_sources(rules)))
    assert (run.status, run.result, run.processed) == ("failed", None, 0)
    assert run.error is not None and run.finished_at is not None
    assert run.error.startswith("The candidate rule set does not load:")
    assert "candidates.yaml:" in run.error and "candidate-trd: unknown fact 'phq9x'" in run.error
    assert "Traceback" not in run.error
    assert report_of(stored, run) is None


def test_a_candidate_whose_own_tests_fail_does_not_run(stored: Flask, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "fibromyalgia.yaml", "    outcome: counseling\n", "    outcome: not_candidate\n")
    run = dry_runs.run_backtest(stored, start(stored, read_sources(rules)))
    assert run.status == "failed" and run.error is not None
    assert (
        "fibromyalgia.yaml:" in run.error
        and "test 'fibromyalgia alone gets the candid counseling note' failed" in run.error
    )


def test_a_finished_run_is_not_run_again(stored: Flask) -> None:
    run_id = start(stored, read_sources(RULES))
    first = dry_runs.run_backtest(stored, run_id)
    again = dry_runs.run_backtest(stored, run_id)
    assert (first.status, again.status, again.finished_at) == ("done", "done", first.finished_at)


def test_runs_are_listed_newest_first_and_stall_without_progress(stored: Flask) -> None:
    first = start(stored, read_sources(RULES))
    second = start(stored, read_sources(RULES))
    with new_session(stored) as session:
        assert [run.id for run in dry_run_store.recent_runs(session)] == [second, first]
        assert [run.id for run in dry_run_store.recent_runs(session, limit=1)] == [second]
        with pytest.raises(TuningNotFound):
            dry_run_store.get_run(session, second + 100)
    queued = fetch(stored, first)
    assert not dry_run_store.is_stalled(queued, NOW + timedelta(minutes=4))
    assert dry_run_store.is_stalled(queued, NOW + timedelta(minutes=5))
    done = dry_runs.run_backtest(stored, first)
    assert not dry_run_store.is_stalled(done, done.finished_at + timedelta(hours=1))  # type: ignore[operator]
