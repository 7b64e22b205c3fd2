"""A safety submission opened on a phone from the urgent alert: what the physician must do first is on the first screen.

The alert tells the physician to claim the submission and call the patient now. At 375 x 667 CSS pixels, signed in
from the alert's link, the page shows, without scrolling: the title with its safety badge, the instruction with the
patient's number and the Claim button. Once claimed, the number to call is still on the first screen.
"""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.alerts import detail_url
from screening.contacts.details import ContactDetails
from screening.contacts.service import store_contact
from screening.db import new_session
from screening.models import Submission
from tests.accounts import Users

from .conftest import AxeChecker
from .conftest import LiveServer
from .phone import PHONE
from .test_review_pages import FOUR_CASES
from .test_review_pages import seed

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

#: A patient who gave every detail, as the callback details list them all.
CALLBACK = ContactDetails(
    preferred_name="Jordan",
    email="jordan.rivers@example.org",
    phone="+12125550187",
    preferred_method="either",
    preferred_time="morning",
    state="NY",
    consent=True,
    consent_version="test",
)
PHONE_SHOWN = "(212) 555-0187"


def give_callback_details(app: Flask, submission: Submission) -> None:
    """Store the patient's contact details, encrypted, as the intake's contact step does."""
    with new_session(app) as session:
        store_contact(session, app.config, session.get_one(Submission, submission.id), CALLBACK)
        session.commit()


def below_the_first_screen(page: Page, **elements: Locator) -> dict[str, float]:
    """Return how far (CSS pixels) each named element's bottom edge reaches past the first screen; 0 when inside.

    It measures once the page has loaded, its stylesheets applied (the page may just have followed a redirect).
    """
    page.wait_for_load_state("load")
    past = {}
    for name, element in elements.items():
        box = element.bounding_box()
        assert box is not None, f"{name} is not laid out"
        past[name] = max(0.0, box["y"] + box["height"] - PHONE["height"])
    return past


def top(element: Locator) -> float:
    """Return the distance of the element's top edge from the top of the page."""
    box = element.bounding_box()
    assert box is not None
    return box["y"]


def open_from_the_alert(page: Page, app: Flask, users: Users, submission: Submission) -> None:
    """Follow the alert's link to the submission, sign in as a physician, and land on it at the top."""
    physician = users.create("physician", email="dr.ada@clinic.test")
    link = detail_url(app.config, submission.id)
    page.goto(link)
    page.get_by_label("Email address").fill(physician.email)
    page.get_by_label("Password").fill(users.password_of(physician))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(link)
    assert page.evaluate("window.scrollY") == 0


def test_a_safety_submission_on_a_phone_shows_the_first_steps_without_scrolling(
    new_context: NewContext, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    stored = seed(app, *FOUR_CASES)
    give_callback_details(app, stored["SAFE-0001"])
    page = new_context(viewport=PHONE).new_page()
    open_from_the_alert(page, app, users, stored["SAFE-0001"])

    title = page.get_by_role("heading", level=1)
    expect(title).to_contain_text("SAFE-0001")
    expect(title).to_contain_text("Safety")
    instruction = page.locator("#safety-instruction")
    expect(instruction).to_have_text(
        f"Risk of self-harm: claim it and call the patient now at {PHONE_SHOWN}, then record the safety follow-up."
    )
    claim = page.get_by_role("button", name="Claim")
    call = instruction.get_by_role("link", name=PHONE_SHOWN)
    expect(call).to_have_attribute("href", "tel:+12125550187")
    assert below_the_first_screen(page, title=title, instruction=instruction, call=call, claim=claim) == {
        "title": 0,
        "instruction": 0,
        "call": 0,
        "claim": 0,
    }
    axe.check(page, "safety submission on a phone, unclaimed")

    claim.click()
    expect(page.get_by_role("status")).to_have_text("You have claimed this submission.")
    expect(instruction).to_have_text(
        f"Risk of self-harm: call the patient now at {PHONE_SHOWN}, then record the safety follow-up."
    )
    assert below_the_first_screen(page, call=call) == {"call": 0}  # the call, one tap away
    # The callback details come before the follow-up form, and before the clinical detail.
    order = [
        top(page.locator("#contact-heading")),
        top(page.get_by_role("heading", name="Record the safety follow-up")),
    ]
    assert order == sorted(order), order
    axe.check(page, "safety submission on a phone, claimed")
    assert not axe.found, axe.report()
