"""The clinic-scale bench's figures run (at a tiny size, on SQLite) and say what they were measured against."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import clinic_scale  # noqa: E402 - the bench folder is not a package

#: The dry run checks the candidate rules in bounded child processes (seconds to start): tests/test_backtest.py
#: covers it, and the bench's figure only times ``backtest.time_backtest``.
SLOW = {"dry_run"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[clinic_scale.Bench]:
    folder = tmp_path_factory.mktemp("bench")
    found = clinic_scale.Bench("sqlite", 6, 3, folder, requests=2, documents=4)
    yield found
    found.close()


@pytest.mark.parametrize("name", sorted(set(clinic_scale.FIGURES) - SLOW))
def test_every_figure_runs_and_has_a_reference(bench: clinic_scale.Bench, name: str) -> None:
    measured = clinic_scale.FIGURES[name](bench)
    assert measured.value > 0 and measured.reference > 0 and measured.goal
    assert f"{measured.ratio:.2f}x" in measured.line()


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
