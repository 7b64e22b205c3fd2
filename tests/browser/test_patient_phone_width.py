"""Patient pages on a phone (375 x 667 CSS pixels): the consent checkbox sits beside its label, the safety
confirmation reads title, crisis help, then what happens next, with headings in order.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import expect

from .conftest import AxeChecker
from .conftest import LiveServer
from .phone import PHONE
from .phone import checked_routes
from .wizard import answer_with_thoughts_of_self_harm
from .wizard import send_answers

pytestmark = pytest.mark.browser

#: The routes of the pages each test checks (``test_every_page_phone_width`` opens the others).
WELCOME_PAGES = {"/"}
CONFIRMATION_PAGES = {"/intake/done"}
PAGES = WELCOME_PAGES | CONFIRMATION_PAGES
HEADING_LEVELS = "() => [...document.querySelectorAll('main h1, main h2, main h3, main h4')].map(h => +h.tagName[1])"


def test_the_consent_checkbox_sits_beside_its_label_on_a_phone(
    new_context: Callable[..., BrowserContext], app: Flask, live_server: LiveServer, axe: AxeChecker
) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto(live_server("/"))
    label = page.locator("label[for=consent]")
    box = page.locator("#consent").bounding_box()
    text = label.bounding_box()
    assert box is not None and text is not None
    line = float(label.evaluate("element => parseFloat(getComputedStyle(element).lineHeight)"))
    assert text["y"] - 1 <= box["y"] < text["y"] + line, (box, text, line)
    assert box["x"] + box["width"] <= text["x"], (box, text)
    axe.check(page, "welcome at 375 px")
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == WELCOME_PAGES


def test_the_safety_confirmation_on_a_phone_reads_in_one_calm_order(
    new_context: Callable[..., BrowserContext], app: Flask, live_server: LiveServer, axe: AxeChecker
) -> None:
    page = new_context(viewport=PHONE).new_page()
    answer_with_thoughts_of_self_harm(page, live_server.url)
    send_answers(page)
    crisis = page.get_by_role("region", name=re.compile("Help is available"))
    expect(crisis).to_contain_text("988")
    levels = page.evaluate(HEADING_LEVELS)
    assert levels[0] == 1 and levels.count(1) == 1, levels
    assert all(later - earlier <= 1 for earlier, later in pairwise(levels)), levels
    title = page.get_by_role("heading", level=1).bounding_box()
    help_box = crisis.bounding_box()
    reference = page.locator("#reference-code").bounding_box()
    assert title and help_box and reference
    assert title["y"] < help_box["y"] < reference["y"]
    assert help_box["y"] < PHONE["height"]  # the crisis help is on the first screen
    expect(page.get_by_text("You told us you have had thoughts")).to_have_count(1)
    axe.check(page, "safety confirmation at 375 px")
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == CONFIRMATION_PAGES
