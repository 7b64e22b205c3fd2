"""Checks of a page at a phone's size (375 x 667 CSS pixels), shared by the phone-width browser tests.

``check_fits`` is the one assertion: no sideways scroll, reference codes whole, wide tables in their own labelled
scrolling region, axe clean. ``checked_routes`` tells which of the app's routes the pages checked belong to, so
``test_every_page_phone_width`` can fail when a page of the app is checked by none of them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Page
from playwright.sync_api import expect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from .conftest import AxeChecker

PHONE = {"width": 375, "height": 667}


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
    """Check that the page fits a phone's width, its reference codes are whole, and axe finds nothing.

    It measures once the page has loaded: right after a redirect the heading can show before the stylesheets
    apply, and an unstyled table is wider than the phone.
    """
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.wait_for_load_state("load")
    assert sideways_overflow(page) == 0, (name, sideways_overflow(page), sticking_out(page))
    assert broken_references(page, references) == [], name
    for region in page.locator(".table-scroll").all():
        assert region.get_attribute("role") == "region" and region.get_attribute("aria-labelledby"), name
    axe.check(page, f"{name} at 375 px")


def route_of(app: Flask, url: str) -> str | None:
    """Return the rule (e.g. ``/review/submissions/<int:submission_id>``) a GET of ``url`` reaches, None if none."""
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(urlsplit(url).path, method="GET", return_rule=True)
    except HTTPException:  # an error page (404) or a redirect the map itself makes
        return None
    assert isinstance(rule, Rule)
    return rule.rule


def checked_routes(app: Flask, axe: AxeChecker) -> set[str]:
    """Return the rules of the pages ``axe`` checked in this test."""
    return {rule for rule in (route_of(app, url) for url in axe.urls) if rule is not None}
