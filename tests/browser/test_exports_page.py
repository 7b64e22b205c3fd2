"""The admins' exports page in a real browser: axe (WCAG 2.2 AA) and the Nu checker in every state, both downloads."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from flask import Flask
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.db import new_session
from screening.exports import quality_csv
from tests.accounts import Users
from tests.test_review_service import add_submission

from .conftest import AxeChecker
from .conftest import LiveServer
from .test_tuning_pages import sign_in

pytestmark = pytest.mark.browser


def test_the_exports_page_downloads_both_files_and_explains_a_bad_day(
    app: Flask, page: Page, live_server: LiveServer, axe: AxeChecker, users: Users
) -> None:
    admin = users.create("admin")
    with new_session(app) as session:
        add_submission(session, "candidate", submitted_at=datetime(2026, 3, 10, 9, tzinfo=UTC))
        session.commit()

    sign_in(page, live_server, users, admin, "/admin/users")
    page.get_by_role("navigation", name="Admin pages").get_by_role("link", name="Exports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    axe.check(page, "exports")

    page.get_by_label("From (UTC)").fill("2026-03-12")
    page.get_by_label("To (UTC)").fill("2026-03-11")
    page.get_by_role("button", name="Download the quality CSV").click()
    expect(page.get_by_role("alert")).to_contain_text("The end date is before the start date.")
    assert page.title().startswith("Error: ")
    axe.check(page, "exports, the end before the start")

    page.get_by_label("From (UTC)").fill("2026-03-01")
    page.get_by_label("To (UTC)").fill("2026-03-31")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the quality CSV").click()
    assert download.value.suggested_filename == "quality-2026-03-01-to-2026-03-31.csv"
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(quality_csv.HEADER) and len(lines) == 2 and lines[1].split(",")[1] == "2026-03-10"

    with page.expect_download() as dictionary:
        page.get_by_role("link", name="Download the data dictionary (CSV)").click()
    assert dictionary.value.suggested_filename == "quality-data-dictionary.csv"

    assert not axe.found, axe.report()
    assert len(axe.checked) == 2
