"""The clinic-scale bench's figures run (at a tiny size, on SQLite) and say what they were measured against."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import clinic_scale  # noqa: E402 - the bench folder is not a package

#: The dry run checks the candidate rules in bounded child processes (seconds to start): tests/test_backtest.py
#: covers it, and the bench's figure only times ``backtest.time_backtest``. The rule-tuning pages' figures run
#: two dry runs of six submissions, which take a fraction of a second once those processes run.
SLOW = {"dry_run"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[clinic_scale.Bench]:
    folder = tmp_path_factory.mktemp("bench")
    found = clinic_scale.Bench("sqlite", 6, 3, folder, requests=2, documents=4, dry_runs=2, downloads=1)
    yield found
    found.close()


@pytest.mark.parametrize("name", sorted(set(clinic_scale.FIGURES) - SLOW))
def test_every_figure_runs_and_has_a_reference(bench: clinic_scale.Bench, name: str) -> None:
    measured = clinic_scale.FIGURES[name](bench)
    assert measured.value > 0 and measured.reference > 0 and measured.goal
    assert f"{measured.ratio:.2f}x" in measured.line()


def test_every_figure_of_the_issue_is_measured() -> None:
    issue = {"rules_list", "draft_page", "dry_run_result", "dry_run_progress", "audit_csv", "review_queue"}
    issue |= {"wizard_post", "wizard_get", "whole_intake", "screening", "ten_times_rules", "dry_run", "seed"}
    assert issue <= set(clinic_scale.FIGURES)
    assert not hasattr(clinic_scale, "ELSEWHERE")


def test_the_tuning_pages_list_the_dry_runs_the_bench_ran(bench: clinic_scale.Bench) -> None:
    pages = clinic_scale.tuning(bench, bench.size)
    listed = pages.client.get(pages.rules_home).get_data(as_text=True)
    assert listed.count(f"/rules/dry-runs/{pages.run_id}") >= 1
    assert pages.client.get(pages.progress).status_code == 200


def test_a_figure_plugs_in_by_name() -> None:
    def constant(bench: clinic_scale.Bench) -> clinic_scale.Figure:
        return clinic_scale.Figure("constant", 2.0, "ms", 4.0, "twice", "none")

    clinic_scale.register("constant_for_test", constant, database=False)
    try:
        assert clinic_scale.FIGURES["constant_for_test"] is constant
        assert "constant_for_test" not in clinic_scale.NEEDS_DATABASE
        assert clinic_scale.FIGURES["constant_for_test"](None).ratio == 0.5  # type: ignore[arg-type]
    finally:
        del clinic_scale.FIGURES["constant_for_test"]
