"""axe (WCAG 2.2 AA) finds no violation on the sign-in page (empty, with errors, failed) and the admin users page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.auth.views import FAILED_MESSAGE
from tests.accounts import DEFAULT_PASSWORD
from tests.accounts import Users

from .conftest import AxeChecker
from .conftest import LiveServer

pytestmark = pytest.mark.browser


def test_axe_finds_no_violation_on_the_auth_pages(
    page: Page, live_server: LiveServer, axe: AxeChecker, users: Users
) -> None:
    users.create("physician", email="doc@clinic.test")
    users.create("admin", email="admin@clinic.test")

    page.goto(live_server("/admin/users"))
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/users$"))
    axe.check(page, "sign in")

    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter your email address.")
    assert page.title().startswith("Error: ")
    axe.check(page, "sign in with empty fields")

    page.get_by_label("Email address").fill("admin@clinic.test")
    page.get_by_label("Password").fill("not-the-right-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(FAILED_MESSAGE)
    axe.check(page, "sign in failed")

    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server("/admin/users"))
    expect(page.get_by_role("banner")).to_contain_text("Signed in as admin@clinic.test")
    axe.check(page, "users")

    page.get_by_role("button", name="Disable doc@clinic.test").click()
    expect(page.get_by_role("status")).to_contain_text("doc@clinic.test is disabled and signed out.")
    axe.check(page, "users after disabling one")

    page.get_by_role("combobox", name="Role for doc@clinic.test").select_option("staff")
    page.get_by_role("button", name="Change role of doc@clinic.test").click()
    expect(page.get_by_role("status")).to_contain_text("doc@clinic.test is now staff.")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    axe.check(page, "signed out")

    assert not axe.found, axe.report()
    assert axe.checked == [
        "sign in",
        "sign in with empty fields",
        "sign in failed",
        "users",
        "users after disabling one",
        "signed out",
    ]
