"""The intake in a real browser: the whole journey, without JavaScript, resume, and the self-harm path."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.instruments import PHQ9
from tests.patient import DEFAULT_ANSWERS

from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import answer_steps
from .wizard import fill_step
from .wizard import path_of
from .wizard import press_next
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]


def test_full_journey_ends_with_a_reference_code(page: Page, live_server: LiveServer, axe: AxeChecker) -> None:
    answer_steps(page, live_server.url)
    reference = send_answers(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("We have received your answers")
    # Nothing crisis-related is shown to a patient who did not report thoughts of self-harm.
    expect(page.locator(".crisis")).to_have_count(0)
    # test_accessibility checks the confirmation with crisis resources; this is the plain one.
    axe.check(page, "done")
    assert not axe.found, "axe found violations:\n" + axe.report()
    # Going back to the form after sending starts a new form (tests/browser/test_shared_device.py), not a second
    # submission, and shows nothing of this one.
    page.goto(live_server("/intake/review"))
    expect(page).to_have_url(live_server("/"))
    expect(page.locator("body")).not_to_contain_text(reference)


def test_full_journey_without_javascript(new_context: NewContext, live_server: LiveServer) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    answer_steps(page, live_server.url)
    send_answers(page)


def test_resume_link_opens_the_answers_in_a_new_browser(
    page: Page, new_context: NewContext, live_server: LiveServer
) -> None:
    answer_steps(page, live_server.url, until="symptoms")
    page.get_by_text("Continue later on this or another device").click()
    link = page.get_by_role("link", name=re.compile("resume"))
    expect(link).to_be_visible()
    resume_url = link.get_attribute("href")
    assert resume_url and resume_url.startswith(live_server("/resume/"))

    other = new_context().new_page()
    other.goto(resume_url)
    # The token leaves the address bar (through /resume, which asks nothing of a browser holding nothing);
    # the wizard opens on the first step not yet answered.
    expect(other).to_have_url(path_of("symptoms"))
    expect(other.get_by_role("heading", level=1)).to_have_text("Other symptoms")
    expect(other.get_by_text("Step 5 of 12")).to_be_visible()

    other.get_by_role("button", name="Back", exact=True).click()
    expect(other).to_have_url(path_of("pain"))
    form = other.locator("form.step-form")
    for label in ("Left shoulder", "Neck", "Lower back"):
        expect(form.get_by_label(label, exact=True)).to_be_checked()
    expect(form.get_by_label("Left jaw", exact=True)).not_to_be_checked()
    expect(form.get_by_label(re.compile("For how many months"))).to_have_value("48")
    expect(form.get_by_role("group", name="Please rate your pain").get_by_label("6", exact=True)).to_be_checked()

    other.get_by_role("button", name="Back", exact=True).click()
    expect(other).to_have_url(path_of("about"))
    sex = other.get_by_role("group", name="What sex were you assigned at birth?")
    expect(sex.get_by_label("Female", exact=True)).to_be_checked()
    diagnoses = other.get_by_role("group", name="Has a doctor ever told you")
    expect(diagnoses.get_by_label("Fibromyalgia", exact=True)).to_be_checked()
    expect(diagnoses.get_by_label("Lupus", exact=True)).not_to_be_checked()


def test_self_harm_answer_shows_crisis_resources_first(page: Page, live_server: LiveServer) -> None:
    item9 = PHQ9.items[8]
    answer_steps(page, live_server.url, until="mood")
    fill_step(page, "mood", {**DEFAULT_ANSWERS["mood"], item9.key: "1"})
    group = page.get_by_role("group", name=item9.text)
    expect(group.get_by_label("Several days", exact=True)).to_be_checked()
    press_next(page, "support")

    # The first region of the page, before any form, gives 988 and 911.
    first_region = page.get_by_role("main").get_by_role("region").first
    expect(first_region).to_contain_text("988")
    expect(first_region).to_contain_text("911")
    first_heading = page.get_by_role("main").get_by_role("heading").first
    expect(first_region).to_contain_text(first_heading.inner_text())
    expect(page.get_by_role("link", name="988").first).to_have_attribute("href", "tel:988")
    expect(page.locator("form")).to_have_count(0)

    page.get_by_role("link", name="Continue the form").click()
    expect(page).to_have_url(path_of("anxiety"))
    # From now on every page keeps a short reminder of the crisis line.
    expect(page.get_by_role("complementary", name="Crisis support")).to_contain_text("988")
    following = {"anxiety": "sleep", "sleep": "treatments", "treatments": "history", "history": "contact"}
    for key in ("anxiety", "sleep", "treatments", "history", "contact"):
        fill_step(page, key)
        # The contact step, too, keeps the crisis reminder.
        expect(page.get_by_role("complementary", name="Crisis support")).to_contain_text("988")
        press_next(page, following.get(key, "review"))
    send_answers(page)

    crisis = page.get_by_role("region", name=re.compile("Help is available"))
    expect(crisis).to_contain_text("988")
    expect(crisis).to_contain_text("911")
    crisis_top = crisis.bounding_box()
    reference_top = page.locator("#reference-code").bounding_box()
    assert crisis_top and reference_top and crisis_top["y"] + crisis_top["height"] <= reference_top["y"]


def test_pregnancy_questions_follow_sex_at_birth(page: Page, new_context: NewContext, live_server: LiveServer) -> None:
    answer_steps(page, live_server.url, until="about")
    sex = page.get_by_role("group", name="What sex were you assigned at birth?")
    pregnancy = page.get_by_role("group", name="Are you pregnant, or could you be pregnant?")
    breastfeeding = page.get_by_role("group", name="Are you breastfeeding?")
    expect(pregnancy).to_be_visible()
    for choice, shown in (
        ("Male", False),
        ("Female", True),
        ("Male", False),
        ("Intersex", True),
        ("I prefer not to say", True),
    ):
        sex.get_by_label(choice, exact=True).check()
        for group in (pregnancy, breastfeeding):
            if shown:
                expect(group).to_be_visible()
            else:
                expect(group).to_be_hidden()

    # A man can go on without answering the hidden questions.
    sex.get_by_label("Male", exact=True).check()
    page.get_by_role("group", name="Has a doctor ever told you").get_by_label("Fibromyalgia", exact=True).check()
    press_next(page, "pain")
    page.get_by_role("button", name="Back", exact=True).click()
    expect(page).to_have_url(path_of("about"))
    # Coming back with "Male" saved, the questions are still hidden.
    expect(page.get_by_role("group", name="Are you pregnant, or could you be pregnant?")).to_be_hidden()

    # Without JavaScript nothing is hidden: the hint tells men to skip the questions.
    context = new_context(java_script_enabled=False)
    plain = context.new_page()
    answer_steps(plain, live_server.url, until="about")
    plain.get_by_role("group", name="What sex were you assigned at birth?").get_by_label("Male", exact=True).check()
    expect(plain.get_by_role("group", name="Are you pregnant, or could you be pregnant?")).to_be_visible()
