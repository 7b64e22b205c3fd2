"""A shared device in a real browser: the next visitor on the same browser gets a fresh form, nothing of the last."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect


from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import answer_steps
from .wizard import answer_with_thoughts_of_self_harm
from .wizard import path_of
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]


def test_the_next_visitor_on_the_same_browser_gets_a_fresh_form(
    page: Page, live_server: LiveServer, axe: AxeChecker
) -> None:
    answer_with_thoughts_of_self_harm(page, live_server.url)
    reference = send_answers(page)
    status_link = page.locator("#status-link").get_attribute("href")
    assert status_link
    expect(page.get_by_role("region", name=re.compile("Help is available"))).to_contain_text("988")
    expect(page.get_by_role("button", name="Finish and clear this page")).to_be_visible()
    axe.check(page, "done with the finish button (crisis)")

    # The patient walks away without pressing anything; the next visitor opens the site in the same browser.
    visitor = page.context.new_page()
    visitor.goto(live_server("/"))
    expect(visitor.get_by_role("heading", level=1)).to_be_visible()
    expect(visitor.get_by_role("button", name="Start")).to_be_visible()
    body = visitor.locator("body")
    expect(body).not_to_contain_text(reference)
    expect(body).not_to_contain_text("We have received your answers")
    expect(visitor.get_by_role("region", name=re.compile("Help is available"))).to_have_count(0)
    assert "/status/" not in visitor.content()
    expect(visitor.get_by_role("checkbox").first).not_to_be_checked()
    for path in ("/intake/done", "/intake/review", "/intake/history"):
        visitor.goto(live_server(path))
        expect(visitor).to_have_url(live_server("/"))
        expect(body).not_to_contain_text(reference)

    # On the first tab, the patient finishes: the page is cleared and a fresh start page is left behind.
    page.get_by_role("button", name="Finish and clear this page").click()
    expect(page).to_have_url(live_server("/"))
    expect(page.locator("body")).not_to_contain_text(reference)
    page.go_back()
    expect(page.locator("body")).not_to_contain_text(reference)
    assert not axe.found, axe.report()


def test_a_resume_link_asks_before_replacing_the_form_this_browser_holds(
    page: Page, new_context: NewContext, live_server: LiveServer, axe: AxeChecker
) -> None:
    other = new_context().new_page()
    answer_steps(other, live_server.url, until="sleep")
    other.get_by_text("Continue later on this or another device").click()
    link = other.locator("a.resume-link").first.get_attribute("href")
    assert link and link.startswith(live_server("/resume/"))

    answer_steps(page, live_server.url, until="pain")
    page.goto(link)
    expect(page).to_have_url(live_server("/resume"))  # the token left the address bar
    expect(page.get_by_role("heading", level=1)).to_have_text("Open this saved form?")
    expect(page.locator("#resume-held")).to_contain_text("This browser already holds another form started on")
    axe.check(page, "resume question")
    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(live_server("/"))
    page.goto(live_server("/intake/pain"))
    expect(page).to_have_url(path_of("pain"))  # still this browser's own form

    page.goto(link)
    page.get_by_role("button", name="Open this form").click()
    expect(page).to_have_url(path_of("sleep"))
    assert not axe.found, axe.report()
