"""How dry runs are stored and read: pages load only what they show, and show what they showed before.

A dry run's counts and its list of changed submissions are stored apart (the changes one row each,
by position), so the lists, the draft page and the progress JSON never read the result or the files,
and a result page reads only its own page of changes. What the pages show stays as it was: the same
counts, the same changes in the same order, the same paging.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from screening.db import engine_for
from screening.db import new_session
from screening.engine import dry_run_comparison
from screening.engine.dry_run import compare
from screening.engine.dry_run_comparison import Change
from screening.engine.dry_run_comparison import Comparison
from screening.engine.loader import read_sources
from screening.active_rules.registry import checked_ruleset
from screening.models import BacktestRun
from screening.tuning import dry_run_reports
from screening.tuning import dry_run_store
from screening.tuning import dry_run_views

from .accounts import Auth
from .test_backtest import RULES
from .test_backtest import fibromyalgia_moved
from .test_backtest import fixture_rows
from .test_backtest import references_of
from .test_backtest import store_fixture
from .test_dry_run_views import _runs
from .test_dry_run_views import _start
from .test_dry_run_views import draft_moving_fibromyalgia

#: The columns of a dry run that only its result page (and the task) need.
BIG_COLUMNS = ("result", "candidate_sources")


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements the app sends while the block runs."""
    sent: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    engine = engine_for(app)
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)


def _selects_a_big_column(statement: str) -> bool:
    """Return True when a statement reads the result or the files of a dry run."""
    pattern = r"backtest_run\.(?:" + "|".join(BIG_COLUMNS) + r")\b"
    return re.search(pattern, statement) is not None


def _expected(tmp_path: Path) -> Comparison:
    """Return the comparison of the fixture set as the run stores it: computed here, through its JSON form."""
    candidate = checked_ruleset(read_sources(fibromyalgia_moved(tmp_path / "expected")))
    against = checked_ruleset(read_sources(RULES))
    return Comparison.from_dict(compare(candidate, against, fixture_rows()).as_dict())


def _listed_references(page: str) -> list[str]:
    """Return the references in the changed submissions' table, in order."""
    table = page[page.index('id="changes-heading"') : page.index("</main>")]
    return re.findall(r'<th scope="row"><code>([^<]+)</code></th>', table)


def test_the_lists_the_draft_page_and_the_progress_read_neither_the_result_nor_the_files(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    _start(auth, app, draft_id)
    [run] = _runs(app)
    for path in ("/rules/", f"/rules/drafts/{draft_id}", f"/rules/dry-runs/{run.id}/progress"):
        with statements(app) as sent:
            response = client.get(path)
        assert response.status_code == 200, path
        assert f"/rules/dry-runs/{run.id}" in response.get_data(as_text=True) or path.endswith("/progress")
        assert any("backtest_run" in statement for statement in sent), path
        assert not [statement for statement in sent if _selects_a_big_column(statement)], path
    assert client.get(f"/rules/dry-runs/{run.id}/progress").get_json() == {
        "status": "done",
        "processed": 15,
        "total": 15,
        "percent": 100,
        "stalled": False,
    }


def test_a_result_page_builds_only_the_changes_it_shows(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dry_run_views, "CHANGES_PER_PAGE", 3)
    store_fixture(app)
    staff = auth.login_as("staff")
    _start(auth, app, draft_moving_fibromyalgia(app, staff, tmp_path))
    [run] = _runs(app)
    built: list[str] = []
    read = Change.from_dict.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Change], data: dict[str, object]) -> Change:
        built.append(str(data["reference"]))
        return read(cls, data)

    monkeypatch.setattr(Change, "from_dict", classmethod(counted))
    page = client.get(f"/rules/dry-runs/{run.id}?page=2").get_data(as_text=True)
    assert _listed_references(page) == references_of("fibromyalgia_alone")[3:]
    assert built == references_of("fibromyalgia_alone")[3:]


@pytest.mark.parametrize("limit", [dry_run_comparison.CHANGES_LIMIT, 3])
def test_every_page_of_changes_shows_the_comparison_as_before(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(dry_run_views, "CHANGES_PER_PAGE", 3)
    monkeypatch.setattr(dry_run_comparison, "CHANGES_LIMIT", limit)
    store_fixture(app)
    staff = auth.login_as("staff")
    _start(auth, app, draft_moving_fibromyalgia(app, staff, tmp_path))
    [run] = _runs(app)
    expected = _expected(tmp_path)
    assert len(expected.changes) == min(limit, 4) and expected.changed_total == 4
    auth.logout()
    auth.login_as("physician")
    pages = -(-len(expected.changes) // 3)
    for number in range(1, pages + 1):
        page = client.get(f"/rules/dry-runs/{run.id}?page={number}").get_data(as_text=True)
        shown = expected.changes[(number - 1) * 3 : number * 3]
        assert _listed_references(page) == [change.reference for change in shown]
        first = (number - 1) * 3 + 1
        assert f"Changed submissions {first} to {first + len(shown) - 1}:" in page
        assert ("Showing the first 3 of 4 changed submissions." in page) == (limit == 3)
        assert (f"Page {number} of {pages}." in page) == (pages > 1)
        assert (f"?page={number + 1}#changes-heading" in page) == (number < pages)
        assert (f"?page={number - 1}#changes-heading" in page) == (number > 1)
    assert client.get(f"/rules/dry-runs/{run.id}?page={pages + 1}").status_code == 404
    with new_session(app) as session:
        stored = session.get(BacktestRun, run.id)
        assert stored is not None
        whole = dry_run_reports.report(session, stored)
        second = dry_run_reports.report(session, stored, changes=slice(1, 3))
    assert whole == dry_run_reports.Report.of(expected)
    assert second is not None and second.changes == expected.changes[1:3]
    assert second.changes_kept == len(expected.changes) and second.truncated == (limit == 3)


def test_a_run_started_again_keeps_only_its_new_changes(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    _start(auth, app, draft_moving_fibromyalgia(app, staff, tmp_path))
    [run] = _runs(app)
    with new_session(app) as session:
        stored = session.get_one(BacktestRun, run.id)
        comparison = dry_run_store.stored_comparison(session, stored)
        assert comparison is not None
        dry_run_store.store_result(session, stored, comparison)  # as a run that was started again and finished
        session.commit()
        again = dry_run_store.stored_comparison(session, session.get_one(BacktestRun, run.id))
    assert again == comparison and len(again.changes) == 4
