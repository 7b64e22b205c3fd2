"""The dry-run pages: start a run from a draft, its progress, its comparison, and every refusal."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from screening.db import new_session
from screening.models import BacktestRun
from screening.models import RuleDraft
from screening.models import User
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.tuning import drafts
from screening.tuning import dry_run_store

from .accounts import Auth
from .test_backtest import NOTE_WORDS
from .test_backtest import START
from .test_backtest import fibromyalgia_moved
from .test_backtest import references_of
from .test_backtest import store_fixture


def draft_moving_fibromyalgia(app: Flask, author: User, tmp_path: Path) -> int:
    """Return the id of a draft in which fibromyalgia alone gets not_candidate instead of counseling."""
    moved = (fibromyalgia_moved(tmp_path) / "fibromyalgia.yaml").read_text(encoding="utf-8")
    require_ruleset(app)
    now = datetime.now(UTC)
    with new_session(app) as session:
        user = session.get(User, author.id)
        assert user is not None
        draft = drafts.start_draft(session, title="Fibromyalgia alone: no counseling", user=user, now=now)
        text = draft.sources["fibromyalgia.yaml"]
        drafts.save_file(
            session, draft, name="fibromyalgia.yaml", text=moved, started_from=drafts.digest(text), user=user, now=now
        )
        session.commit()
        return draft.id


def _active_id(app: Flask) -> int:
    """Return the id of the active stored version."""
    with new_session(app) as session:
        current = store.active(session)
        assert current is not None
        return current.version.id


def _runs(app: Flask) -> list[BacktestRun]:
    """Return the stored dry runs, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(BacktestRun).order_by(BacktestRun.id)))


def _start(auth: Auth, app: Flask, draft_id: int, **fields: str) -> str:
    """Start a dry run through the draft page's form; return where it sent the browser."""
    data = {"against": str(_active_id(app)), "submitted_from": "", "submitted_to": "", **fields}
    response = auth.post(f"/rules/drafts/{draft_id}/dry-runs", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _cells(page: str, label: str) -> list[str]:
    """Return the numbers in the table row headed by ``label`` (an outcome name), tags stripped."""
    row = re.search(rf"<tr[^>]*><th scope=\"row\">[^<]*<code>{label}</code></th>(.*?)</tr>", page, re.S)
    assert row is not None, label
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


def test_a_dry_run_of_a_draft_shows_counts_transitions_and_the_changed_references(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    form = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert "Start the dry run" in form and "the active version" in form
    location = _start(auth, app, draft_id)
    [run] = _runs(app)
    assert location.endswith(f"/rules/dry-runs/{run.id}")
    assert (run.status, run.total, run.processed, run.draft_id) == ("done", 15, 15, draft_id)
    page = client.get(location).get_data(as_text=True)
    assert _cells(page, "counseling") == ["4", "0", "−4"]
    assert _cells(page, "not_candidate") == ["4", "8", "+4"]
    assert _cells(page, "safety") == ["2", "2", "0"]
    transition = re.search(r"<tr class=\"is-changed\"><td>(.*?)</td><td>(.*?)</td><td>(\d+)</td>", page, re.S)
    assert transition is not None
    assert "<code>counseling</code>" in transition.group(1)
    assert "<code>not_candidate</code>" in transition.group(2)
    assert transition.group(3) == "4"
    for ref in references_of("fibromyalgia_alone"):
        assert ref in page
    assert "<code>fibromyalgia-counseling</code> (counseling)" in page  # the rule whose outcome changed
    assert "<code>fibromyalgia-counseling</code> (not_candidate)" in page
    changes = page[page.index('id="changes-heading"') : page.index("</main>")]
    assert not any(word in changes for word in NOTE_WORDS)  # no free text from notes or answers
    overview = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert f"/rules/dry-runs/{run.id}" in overview  # listed on the draft


def test_a_date_range_limits_the_submissions(app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    first, last = START.date() + timedelta(days=1), START.date() + timedelta(days=4)
    _start(auth, app, draft_id, submitted_from=first.isoformat(), submitted_to=last.isoformat())
    [run] = _runs(app)
    assert (run.total, run.status) == (4, "done")  # days 1 to 4: two of them fibromyalgia alone
    page = client.get(f"/rules/dry-runs/{run.id}").get_data(as_text=True)
    assert _cells(page, "counseling") == ["2", "0", "−2"]
    assert f"from {first.isoformat()}" in page and f"to {last.isoformat()}" in page


def test_bad_dates_are_refused_with_a_message_and_start_nothing(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    location = _start(auth, app, draft_id, submitted_from="2026-13-01")
    assert location.endswith(f"/rules/drafts/{draft_id}#dry-run-heading")
    page = client.get(location).get_data(as_text=True)
    assert "The dry run was not started" in page and "Submitted on or after" in page
    _start(auth, app, draft_id, submitted_from="2026-11-20", submitted_to="2026-11-01")
    page = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert "The start of the date range is after its end." in page
    _start(auth, app, draft_id, against="999999")
    page = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert "Compare with" in page and "Not a valid choice" in page
    assert _runs(app) == []


def _add_run(app: Flask, draft_id: int, *, status: str, moved: datetime, error: str | None = None) -> int:
    """Store a dry run in a given state, as if a worker had left it there."""
    with new_session(app) as session:
        draft = session.get(RuleDraft, draft_id)
        assert draft is not None
        run = BacktestRun(
            created_at=moved,
            created_by="user:1",
            draft_id=draft_id,
            candidate_version="sha256:" + "0" * 64,
            candidate_sources=dict(draft.sources),
            against_version_id=_active_id(app),
            status=status,
            total=15,
            processed=6,
            started_at=moved,
            progress_at=moved,
            error=error,
        )
        session.add(run)
        session.commit()
        return run.id


def test_only_one_dry_run_goes_at_a_time_and_its_progress_is_shown(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    running = _add_run(app, draft_id, status="running", moved=datetime.now(UTC))
    _start(auth, app, draft_id)
    page = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert f"Dry run {running} is still running (6 of 15 submissions)" in page
    assert [run.id for run in _runs(app)] == [running]
    home = client.get("/rules/").get_data(as_text=True)
    assert "Recent dry runs" in home and f'href="/rules/dry-runs/{running}"' in home
    page = client.get(f"/rules/dry-runs/{running}").get_data(as_text=True)
    assert "6 of 15 submissions (40 %)" in page and 'data-progress-url="/rules/dry-runs/' in page
    progress = client.get(f"/rules/dry-runs/{running}/progress").get_json()
    assert progress == {"status": "running", "processed": 6, "total": 15, "percent": 40, "stalled": False}


def test_an_interrupted_run_can_be_started_again(app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    stalled = _add_run(app, draft_id, status="running", moved=datetime.now(UTC) - timedelta(minutes=30))
    page = client.get(f"/rules/dry-runs/{stalled}").get_data(as_text=True)
    assert "Interrupted" in page and "stopped moving at 6 of 15" in page
    _start(auth, app, draft_id)  # a stalled run does not block a new one
    assert len(_runs(app)) == 2
    response = auth.post(f"/rules/dry-runs/{stalled}/resume", {})
    assert response.status_code == 302
    [resumed, _] = _runs(app)
    assert (resumed.status, resumed.processed) == ("done", 15)
    again = auth.post(f"/rules/dry-runs/{stalled}/resume", {})
    assert "not interrupted" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_failed_run_shows_why(app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path) -> None:
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    failed = _add_run(
        app, draft_id, status="failed", moved=datetime.now(UTC), error="candidates.yaml:7:19: <b>unknown</b> fact"
    )
    page = client.get(f"/rules/dry-runs/{failed}").get_data(as_text=True)
    assert "The dry run failed" in page and "&lt;b&gt;unknown&lt;/b&gt; fact" in page


def test_bad_addresses_are_404_pages_not_errors(app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    _start(auth, app, draft_id)
    [run] = _runs(app)
    for path in (
        "/rules/dry-runs/999999",
        "/rules/dry-runs/999999/progress",
        f"/rules/dry-runs/{run.id}?page=0",
        f"/rules/dry-runs/{run.id}?page=2",
        f"/rules/dry-runs/{run.id}?page=x",
        "/rules/dry-runs/99999999999",
    ):
        assert client.get(path).status_code == 404, path
    assert auth.post("/rules/drafts/999999/dry-runs", {"against": "1"}).status_code == 404


FACT_VALUE = re.compile(r"<code>[a-z0-9_]+ (?:= |: )")


def _facts_shown(page: str) -> bool:
    """Return True when the changed submissions' table shows any fact value."""
    changes = page[page.index('id="changes-heading"') : page.index("</main>")]
    return FACT_VALUE.search(changes) is not None


def test_staff_see_counts_rules_and_references_but_no_patients_facts(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    _start(auth, app, draft_id)
    [run] = _runs(app)
    with new_session(app) as session:
        stored = dry_run_store.stored_changes(session, run.id)
    assert any(change.facts for change in stored)
    page = client.get(f"/rules/dry-runs/{run.id}").get_data(as_text=True)
    assert _cells(page, "counseling") == ["4", "0", "−4"]
    assert all(ref in page for ref in references_of("fibromyalgia_alone"))
    assert "<code>fibromyalgia-counseling</code> (not_candidate)" in page
    assert not _facts_shown(page)
    assert "Fact values are shown to physicians and administrators only." in page
    for name, value in stored[0].facts.items():
        assert f"{name} = " not in page and f"{name}=" not in page, (name, value)


@pytest.mark.parametrize("role", ["physician", "admin"])
def test_clinical_roles_see_the_facts_of_a_dry_run(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path, role: str
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    _start(auth, app, draft_id)
    [run] = _runs(app)
    auth.logout()
    auth.login_as(role)
    page = client.get(f"/rules/dry-runs/{run.id}").get_data(as_text=True)
    assert "Outcomes before and after" in page and _facts_shown(page)
    assert "Fact values are shown to physicians and administrators only." not in page


def test_a_physician_reads_dry_runs_but_starts_none(
    app: Flask, auth: Auth, client: FlaskClient, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = auth.login_as("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path)
    _start(auth, app, draft_id)
    stalled = _add_run(app, draft_id, status="running", moved=datetime.now(UTC) - timedelta(minutes=30))
    auth.logout()
    auth.login_as("physician")
    overview = client.get(f"/rules/drafts/{draft_id}").get_data(as_text=True)
    assert "Start the dry run" not in overview and "Staff and administrators start dry runs" in overview
    assert f"/rules/dry-runs/{stalled}" in overview  # the draft's runs are listed
    data = {"against": str(_active_id(app)), "submitted_from": "", "submitted_to": ""}
    assert auth.post(f"/rules/drafts/{draft_id}/dry-runs", data).status_code == 403
    interrupted = client.get(f"/rules/dry-runs/{stalled}").get_data(as_text=True)
    assert "Interrupted" in interrupted and "Start it again" not in interrupted
    assert auth.post(f"/rules/dry-runs/{stalled}/resume", {}).status_code == 403
    assert [(run.id, run.status) for run in _runs(app)][1] == (stalled, "running")
    assert len(_runs(app)) == 2
