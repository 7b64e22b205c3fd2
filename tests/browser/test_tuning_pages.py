"""The rule-tuning pages in a real browser: a staff member's draft from first edit to publication, and axe on every page."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Callable
from typing import Iterator

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.db import new_session
from screening.models import BacktestRun
from screening.models import RuleDraft
from screening.models import User
from screening.active_rules import require_ruleset
from screening.active_rules import store
from screening.tuning import drafts
from tests.accounts import Users
from tests.conftest import BROWSER_BACKENDS
from tests.conftest import app_on
from tests.ruleset_files import copy_rules
from tests.test_backtest import references_of
from tests.test_backtest import store_fixture
from tests.test_dry_run_views import draft_moving_fibromyalgia
from tests.test_tuning_views import STRICTER
from tests.test_tuning_views import TYPO
from tests.test_tuning_views import TYPO_ERROR

from .conftest import AxeChecker
from .conftest import LiveServer

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
TITLE = "Say PHQ-9 total in the TRD description"


@pytest.fixture(params=BROWSER_BACKENDS)
def app(request: pytest.FixtureRequest, database_urls: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    """Return an app whose rules directory is a copy of rules/ (publishing rewrites it), with the files activated."""
    with app_on(database_urls[request.param], RULES_DIR=str(copy_rules(tmp_path))) as app:
        require_ruleset(app)
        yield app


def sign_in(page: Page, live_server: LiveServer, users: Users, user: User, lands_on: str) -> None:
    """Sign in through the sign-in page and check where the user lands."""
    page.goto(live_server("/login"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(users.password_of(user))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server(lands_on))


def colleague_saves(app: Flask, draft_id: int, colleague_id: int, name: str, extra: str) -> None:
    """A colleague saves a file of the draft while the page has it open."""
    with new_session(app) as session:
        draft = session.get_one(RuleDraft, draft_id)
        text = draft.sources[name]
        user = session.get_one(User, colleague_id)
        drafts.save_file(
            session, draft, name=name, text=text + extra, started_from=drafts.digest(text), user=user, now=now()
        )
        session.commit()


def now() -> datetime:
    """Return the current time."""
    return datetime.now(UTC)


def test_a_staff_draft_goes_from_first_edit_to_publication(
    page: Page, new_context: NewContext, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    staff = users.create("staff", email="tuner@clinic.test")
    colleague = users.create("admin", email="colleague@clinic.test")
    sign_in(page, live_server, users, staff, "/rules/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rules")
    axe.check(page, "home")

    page.get_by_label("Title of the draft").fill(TITLE)
    page.get_by_role("button", name="Start a draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(TITLE))
    draft_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    axe.check(page, "draft overview")

    page.get_by_role("link", name="candidates.yaml").click()
    editor = page.get_by_label("Text of candidates.yaml")
    expect(editor).to_be_visible()
    expect(editor).to_have_css("white-space", "pre")  # long lines scroll, so each stays beside its gutter number
    axe.check(page, "editor: clean")
    original = editor.input_value()
    editor.fill(original.replace(*TYPO))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="The draft does not load")).to_contain_text("Saved; 1 problem.")
    expect(page.locator("#file-errors")).to_contain_text(TYPO_ERROR)
    expect(page.locator(".editor-gutter .gutter-error")).to_have_text(["!   7"])
    axe.check(page, "editor: with errors")

    fixed = page.get_by_label("Text of candidates.yaml").input_value().replace(*reversed(TYPO))
    page.get_by_label("Text of candidates.yaml").fill(
        fixed.replace("with PHQ-9 of 10 or more.\n    when", "with a PHQ-9 total of 10 or more.\n    when")
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved; the draft loads and all")
    expect(page.locator(".editor-gutter .gutter-error")).to_have_count(0)

    colleague_saves(app, draft_id, colleague.id, "candidates.yaml", "# a colleague's comment\n")
    mine = page.get_by_label("Text of candidates.yaml").input_value() + "# my comment\n"
    page.get_by_label("Text of candidates.yaml").fill(mine)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("colleague@clinic.test")
    expect(page.get_by_label("Text of candidates.yaml")).to_have_value(mine)
    expect(page.get_by_role("heading", name="The text saved meanwhile")).to_be_visible()
    axe.check(page, "editor: conflict")
    page.get_by_role("button", name="Save my text, replacing theirs").click()
    expect(page.get_by_role("status")).to_contain_text("Saved; the draft loads")

    page.get_by_role("link", name=re.compile("^Back to draft")).click()
    page.get_by_role("link", name=re.compile("^Run the tests")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tests of draft")
    expect(page.locator("tr.case-fail")).to_have_count(0)
    page.get_by_role("link", name=re.compile("^Back to draft")).click()
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted")

    physician = users.create("physician", email="approver@clinic.test")
    doctor = new_context().new_page()
    sign_in(doctor, live_server, users, physician, "/review/")
    doctor.goto(live_server(f"/rules/drafts/{draft_id}"))
    axe.check(doctor, "draft overview: waiting for approval")
    doctor.get_by_role("button", name="Approve and publish").click()
    expect(doctor.get_by_role("status")).to_contain_text("Published version sha256:")
    with new_session(app) as session:
        current = store.active(session)
        assert current is not None and current.activation.draft_id == draft_id
        version = current.version

    page.goto(live_server("/rules/"))
    expect(page.locator("#active-heading + dl .hash-full")).to_have_text(version.version)
    axe.check(page, "home: after publishing")
    assert not axe.found, axe.report()


def test_starting_a_draft_without_a_title_moves_focus_to_the_error_summary(
    page: Page, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    staff = users.create("staff", email="untitled@clinic.test")
    sign_in(page, live_server, users, staff, "/rules/")
    page.get_by_role("button", name="Start a draft").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_contain_text("Give the draft a title")
    title = page.get_by_label("Title of the draft")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_accessible_description(re.compile("Give the draft a title"))
    summary.get_by_role("link").click()
    expect(title).to_be_focused()
    axe.check(page, "home: start a draft without a title")
    assert not axe.found, axe.report()


def draft_with_a_change(app: Flask, staff: User) -> tuple[int, int]:
    """Start a draft that makes the candidate threshold stricter; return its id and its base version's."""
    with new_session(app) as session:
        user = session.get_one(User, staff.id)
        draft = drafts.start_draft(session, title="Stricter PHQ-9", user=user, now=now())
        text = draft.sources["candidates.yaml"]
        drafts.save_file(
            session,
            draft,
            name="candidates.yaml",
            text=text.replace(*STRICTER),
            started_from=drafts.digest(text),
            user=user,
            now=now(),
        )
        session.commit()
        return draft.id, draft.base_version_id


def test_axe_finds_no_violation_on_tests_diff_and_version_pages(
    page: Page, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    staff = users.create("staff")
    draft_id, version_id = draft_with_a_change(app, staff)
    sign_in(page, live_server, users, staff, "/rules/")

    page.goto(live_server(f"/rules/drafts/{draft_id}/tests"))
    expect(page.locator("tr.case-fail").first).to_contain_text("FAIL")
    axe.check(page, "tests: with failures")
    page.goto(live_server(f"/rules/diff?left=v{version_id}&right=d{draft_id}"))
    expect(page.locator("tr.diff-changed")).to_have_count(1)
    axe.check(page, "diff")
    page.goto(live_server("/rules/diff?left=v999999999&right=x"))
    expect(page.get_by_role("alert")).to_contain_text("Cannot compare")
    axe.check(page, "diff: refused")
    page.goto(live_server(f"/rules/versions/{version_id}"))
    axe.check(page, "stored version")
    page.get_by_role("link", name="candidates.yaml").click()
    expect(page.locator("#line-7")).to_contain_text("phq9 >= 10")
    axe.check(page, "stored version: one file")
    page.goto(live_server(f"/rules/versions/{version_id}/tests"))
    axe.check(page, "stored version: tests")
    assert not axe.found, axe.report()


def test_a_dry_run_from_the_draft_page_and_its_progress(
    page: Page, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker, tmp_path: Path
) -> None:
    store_fixture(app)
    staff = users.create("staff")
    draft_id = draft_moving_fibromyalgia(app, staff, tmp_path / "candidate")
    sign_in(page, live_server, users, staff, "/rules/")
    page.goto(live_server(f"/rules/drafts/{draft_id}"))
    page.get_by_label("Submitted on or after (optional)").fill("2026-10-01")
    page.get_by_role("button", name="Start the dry run").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dry run")
    expect(page.get_by_role("heading", name="Outcomes before and after")).to_be_visible()
    expect(page.locator("table.changes tbody tr")).to_have_count(len(references_of("fibromyalgia_alone")))
    axe.check(page, "dry run: result")
    page.goto(live_server("/rules/"))
    expect(page.get_by_role("heading", name="Recent dry runs")).to_be_visible()
    axe.check(page, "home: with dry runs")

    with new_session(app) as session:
        draft = session.get_one(RuleDraft, draft_id)
        current = store.active(session)
        assert current is not None
        run = BacktestRun(
            created_at=now(),
            created_by=f"user:{staff.id}",
            draft_id=draft_id,
            candidate_version=current.version.version,
            candidate_sources=dict(draft.sources),
            against_version_id=current.version.id,
            status="running",
            total=15,
            processed=3,
            started_at=now(),
            progress_at=now(),
        )
        session.add(run)
        session.commit()
        run_id = run.id
    page.goto(live_server(f"/rules/dry-runs/{run_id}"))
    expect(page.get_by_role("heading", name="Running")).to_be_visible()
    expect(page.locator("#progress")).to_have_attribute("value", "20")
    axe.check(page, "dry run: running")
    _move(app, run_id, processed=9)
    expect(page.locator("[data-progress-text]")).to_have_text("9 of 15 submissions (60 %)", timeout=10_000)
    _move(app, run_id, processed=9, status="failed", error="The dry run stopped unexpectedly (OSError).")
    expect(page.get_by_role("heading", name="The dry run failed")).to_be_visible(timeout=10_000)
    axe.check(page, "dry run: failed")
    assert not axe.found, axe.report()


def _move(app: Flask, run_id: int, *, processed: int, status: str = "running", error: str | None = None) -> None:
    """Record progress of a dry run, as the worker running it would."""
    with new_session(app) as session:
        run = session.get_one(BacktestRun, run_id)
        run.processed, run.status, run.error, run.progress_at = processed, status, error, now()
        session.commit()
