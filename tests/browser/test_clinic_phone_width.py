"""The clinic's pages on a phone: at 375 x 667 no page scrolls sideways and no reference code breaks.

Physicians open the urgent-alert link on a phone, so each signed-in page is opened at that size, by the role that
works it, with data in its tables: the queue and a safety submission (physician), the rules home, a draft, its
editor and its test cases (staff), the users, audit and exports pages (admin). A wide table may scroll inside its own
labelled region, never the page. ``test_every_page_phone_width`` opens the pages this file leaves out.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import expect

from tests.accounts import Users

from .conftest import AxeChecker
from .conftest import LiveServer
from .phone import PHONE
from .phone import check_fits
from .phone import checked_routes
from .test_review_pages import FOUR_CASES
from .test_review_pages import seed
from .test_tuning_pages import sign_in

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
REFERENCES = ("SAFE-0001", "CONT-0001", "CAND-0001", "COUN-0001")

#: The routes of the pages each test checks.
PHYSICIAN_PAGES = {"/review/", "/review/submissions/<int:submission_id>"}
STAFF_AND_ADMIN_PAGES = {
    "/rules/",
    "/rules/drafts/<int(max=2147483647):draft_id>",
    "/rules/drafts/<int(max=2147483647):draft_id>/files/<path:name>",
    "/rules/drafts/<int(max=2147483647):draft_id>/tests",
    "/admin/users",
    "/admin/audit",
    "/admin/exports",
}
PAGES = PHYSICIAN_PAGES | STAFF_AND_ADMIN_PAGES


def test_the_physicians_pages_fit_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    seed(app, *FOUR_CASES)
    page = new_context(viewport=PHONE).new_page()
    physician = users.create("physician", email="dr.ada@clinic.test")
    sign_in(page, live_server, users, physician, lands_on="/review/")
    check_fits(page, axe, "queue", REFERENCES[:3])
    page.get_by_role("link", name="SAFE-0001").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SAFE-0001")
    check_fits(page, axe, "safety submission", REFERENCES[:1])
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == PHYSICIAN_PAGES


def test_the_staff_and_admin_pages_fit_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    staff_page = new_context(viewport=PHONE).new_page()
    sign_in(staff_page, live_server, users, users.create("staff"), lands_on="/rules/")
    check_fits(staff_page, axe, "rules home")
    staff_page.get_by_label("Title of the draft").fill("Phone check")
    staff_page.get_by_role("button", name="Start a draft").click()
    check_fits(staff_page, axe, "draft")
    staff_page.get_by_role("link", name="candidates.yaml").click()
    check_fits(staff_page, axe, "editor")
    staff_page.get_by_role("link", name=re.compile("^Back to draft")).click()
    staff_page.get_by_role("link", name=re.compile("^Run the tests")).click()
    check_fits(staff_page, axe, "test cases")

    admin_page = new_context(viewport=PHONE).new_page()
    sign_in(admin_page, live_server, users, users.create("admin"), lands_on="/admin/users")
    check_fits(admin_page, axe, "users")
    for path in ("/admin/audit", "/admin/exports"):
        admin_page.goto(live_server(path))
        check_fits(admin_page, axe, path)
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == STAFF_AND_ADMIN_PAGES
