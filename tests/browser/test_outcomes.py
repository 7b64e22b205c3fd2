"""The outcome the clinic's rules give, read in a browser: counseling and candidate.

The steps are sent from the browser's session (``post_steps``); ``test_journey`` fills them in by hand.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.patient import DEFAULT_ANSWERS

from .conftest import LiveServer
from .wizard import post_steps
from .wizard import send_answers

pytestmark = pytest.mark.browser
THERAPIES_ONLY = {
    name: value for name, value in DEFAULT_ANSWERS["treatments"].items() if not name.startswith("medications-")
}


def test_fibromyalgia_alone_ends_on_the_candid_counseling_note(page: Page, live_server: LiveServer) -> None:
    post_steps(page, live_server.url, overrides={"treatments": THERAPIES_ONLY})
    send_answers(page)
    note = page.locator(".patient-note").filter(has_text="preliminary")
    expect(note).to_contain_text("short-lived")
    expect(note).to_contain_text("Graded exercise")
    expect(note).to_contain_text("cognitive behavioural therapy")
    expect(page.locator(".outcome-message")).to_contain_text("we do not offer ketamine therapy for your situation")
    expect(page.locator(".crisis")).to_have_count(0)


def test_fibromyalgia_with_trd_ends_as_a_candidate(page: Page, live_server: LiveServer) -> None:
    post_steps(page, live_server.url)
    send_answers(page)
    message = page.locator(".outcome-message")
    expect(message).to_contain_text("A physician will review your answers")
    expect(message).to_contain_text("not an offer of treatment")
    expect(page.locator(".patient-note").filter(has_text="preliminary")).to_have_count(0)
