"""The clinic's pages on a phone: at 375 x 667 no page scrolls sideways and no reference code breaks.

Physicians open the urgent-alert link on a phone, so each signed-in page is opened at that size, by the role that
works it, with data in its tables: the queue and a safety submission (physician), the rules home, a draft, its
editor and its test cases (staff), the users, audit and exports pages (admin). A wide table may scroll inside its own
labelled region, never the page.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.accounts import Users

from .conftest import AxeChecker
from .conftest import LiveServer
from .test_review_pages import FOUR_CASES
from .test_review_pages import seed
from .test_tuning_pages import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 667}
NewContext = Callable[..., BrowserContext]


def sideways_overflow(page: Page) -> int:
    """Return how many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


STICKING_OUT = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
        .filter(node => !(node.parentElement && node.parentElement.closest(".table-scroll")) && node.getBoundingClientRect().right > width + 0.5)
        .map(node => node.tagName.toLowerCase() + (node.className ? "." + String(node.className).split(" ").join(".") : ""));
}"""


def sticking_out(page: Page) -> list[str]:
    """Return the elements outside a scrolling region that reach past the viewport's right edge."""
    return list(page.evaluate(STICKING_OUT))


def broken_references(page: Page, references: tuple[str, ...]) -> list[str]:
    """Return the reference codes on the page that are laid out over more than one line."""
    broken = []
    for reference in references:
        for box in page.get_by_text(reference, exact=True).all():
            if box.evaluate("node => node.getClientRects().length") > 1:
                broken.append(reference)
    return broken


def check_fits(page: Page, axe: AxeChecker, name: str, references: tuple[str, ...] = ()) -> None:
    """Check that the page fits a phone's width, its reference codes are whole, and axe finds nothing."""
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert sideways_overflow(page) == 0, (name, sideways_overflow(page), sticking_out(page))
    assert broken_references(page, references) == [], name
    for region in page.locator(".table-scroll").all():
        assert region.get_attribute("role") == "region" and region.get_attribute("aria-labelledby"), name
    axe.check(page, f"{name} at 375 px")


REFERENCES = ("SAFE-0001", "CONT-0001", "CAND-0001", "COUN-0001")


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
