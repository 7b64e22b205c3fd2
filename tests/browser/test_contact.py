"""The contact step in a real browser: a patient who declines to be contacted, and one who gives details."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.conftest import CLINIC
from tests.patient import CONTACT_DETAILS

from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import answer_steps
from .wizard import fill_step
from .wizard import press_next
from .wizard import send_answers

pytestmark = pytest.mark.browser


def test_a_patient_who_declines_contact_is_told_how_to_reach_the_clinic(
    page: Page, live_server: LiveServer, axe: AxeChecker
) -> None:
    answer_steps(page, live_server.url, until="contact")
    expect(page.get_by_role("heading", level=1)).to_have_text("How the clinic may reach you")
    axe.check(page, "contact step")
    fill_step(page, "contact")  # the default answers decline
    press_next(page, "review")
    expect(page.get_by_text("You chose not to be contacted. No contact details will be stored.")).to_be_visible()
    reference = send_answers(page)
    declined = page.locator("section.contact-declined")
    expect(declined.get_by_role("heading", name="You chose not to be contacted")).to_be_visible()
    expect(declined).to_contain_text(reference)
    expect(declined).to_contain_text(CLINIC["CLINIC_NAME"])
    expect(declined.locator('a[href="tel:+12125550123"]')).to_be_visible()
    axe.check(page, "done after declining contact")
    assert not axe.found, "axe found violations:\n" + axe.report()


def test_a_bad_email_is_shown_beside_its_field(page: Page, live_server: LiveServer, axe: AxeChecker) -> None:
    answer_steps(page, live_server.url, until="contact")
    fill_step(page, "contact", {**CONTACT_DETAILS, "email": "jordan@@example"})
    page.locator("form.step-form").evaluate("f => f.noValidate = true")
    page.get_by_role("button", name="Save and continue", exact=True).click()
    expect(page.locator("#email-error")).to_contain_text("This e-mail address is not valid")
    axe.check(page, "contact step with a bad e-mail address")
    fill_step(page, "contact", {"email": CONTACT_DETAILS["email"]})
    press_next(page, "review")
    expect(page.get_by_text(CONTACT_DETAILS["email"])).to_be_visible()
    assert not axe.found, "axe found violations:\n" + axe.report()
