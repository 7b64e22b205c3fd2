"""axe (WCAG 2.0, 2.1 and 2.2, levels A and AA) finds no violation on any page of the intake.

One walk through the wizard checks every page as a patient meets it: each step empty, each
step after an empty submit (the server's 422 page with its error summary), the crisis page,
the saved page, the review and confirmation pages, the adults-only page and the error pages.
Violations are collected page by page and reported together.
"""

from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.instruments import PHQ9
from tests.patient import DEFAULT_ANSWERS

from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import fill_medicine
from .wizard import fill_step
from .wizard import path_of
from .wizard import press_next
from .wizard import send_answers

pytestmark = pytest.mark.browser

QUESTION_STEPS = ("age", "about", "pain", "symptoms", "mood", "anxiety", "sleep", "treatments", "history", "contact")


def submit_empty(page: Page, axe: AxeChecker, key: str, button: str = "Save and continue") -> None:
    """Send the step as it is and check the page of errors the server answers with."""
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name=button, exact=True).click()
    assert posted.value.status == 422, (key, posted.value.status)
    expect(page.get_by_role("alert")).to_contain_text("with your answers")
    assert page.title().startswith("Error: "), page.title()
    axe.check(page, f"{key} with errors")


def test_axe_finds_no_violation_on_any_page(
    page: Page, new_context: Callable[..., BrowserContext], live_server: LiveServer, axe: AxeChecker
) -> None:
    page.goto(live_server("/"))
    axe.check(page, "welcome")
    submit_empty(page, axe, "welcome", button="Start")
    fill_step(page, "welcome")
    press_next(page, "age", button="Start")

    for position, key in enumerate(QUESTION_STEPS):
        axe.check(page, key)
        submit_empty(page, axe, key)
        if key == "mood":
            # Only item 9 answered, with errors elsewhere: the crisis resources head the page of errors.
            item9 = PHQ9.items[8]
            page.get_by_role("group", name=item9.text).get_by_label("Several days", exact=True).check()
            submit_empty(page, axe, "mood with crisis resources")
            fill_step(page, "mood", {**DEFAULT_ANSWERS["mood"], item9.key: "1"})
            press_next(page, "support")
            axe.check(page, "support (crisis)")
            page.get_by_role("link", name="Continue the form").click()
            expect(page).to_have_url(path_of("anxiety"))
            continue
        if key == "treatments":
            answers = DEFAULT_ANSWERS["treatments"]
            fill_step(page, "treatments", {k: v for k, v in answers.items() if not k.startswith("medications-1-")})
            page.get_by_role("button", name="Add another medicine").click()
            expect(page.get_by_role("group", name="Medicine 2", exact=True)).to_be_visible()
            axe.check(page, "treatments with 2 medicine rows")
            fill_medicine(page, 1, {"drug": "duloxetine"})
            submit_empty(page, axe, "treatments with an incomplete medicine row")
            fill_medicine(
                page,
                1,
                {
                    k.removeprefix("medications-1-"): str(v)
                    for k, v in answers.items()
                    if k.startswith("medications-1-")
                },
            )
        if key == "history":
            page.get_by_role("button", name="Save and finish later").click()
            expect(page).to_have_url(path_of("saved"))
            axe.check(page, "saved")
            page.get_by_role("link", name="Continue now").click()
            expect(page).to_have_url(path_of("history"))
        fill_step(page, key)
        press_next(page, QUESTION_STEPS[position + 1] if position + 1 < len(QUESTION_STEPS) else "review")

    axe.check(page, "review")
    page.get_by_text("Continue later on this or another device").click()
    axe.check(page, "review with the resume link shown")
    send_answers(page)
    axe.check(page, "done (with crisis resources)")

    page.goto(live_server("/resume/unknown"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe.check(page, "error page (unknown resume link)")
    page.goto(live_server("/no-such-page"))
    axe.check(page, "error page (404)")

    minor = new_context().new_page()
    minor.goto(live_server("/"))
    fill_step(minor, "welcome")
    press_next(minor, "age", button="Start")
    fill_step(minor, "age", {"age": "16"})
    press_next(minor, "adults-only")
    axe.check(minor, "adults-only")

    assert not axe.found, "axe found violations:\n" + axe.report()
    assert len(axe.checked) == 33, axe.checked
