"""The medicine rows of the treatments step in a real browser: the name field for "another medicine", and errors.

With JavaScript the field for a typed name shows only in a row whose medicine is "Another medicine"; without it
every row shows the field and the server alone decides. Each error of the summary names its row, and its link
leads to the field of that row.
"""

from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.patient.intake.forms import MedicationTrialForm
from tests.patient import DEFAULT_ANSWERS

from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import answer_steps
from .wizard import fill_medicine
from .wizard import fill_step

pytestmark = pytest.mark.browser

FIELDS = MedicationTrialForm()
OTHER_NAME = FIELDS.other_name.label.text
DOSE = FIELDS.dose_mg_per_day.label.text
#: Row 1 names a medicine not listed but no name; row 2 is escitalopram without its dose.
ROWS_WITH_ERRORS = {
    "medications-0-drug": "other",
    "medications-0-dose_mg_per_day": "100",
    "medications-0-weeks": "12",
    "medications-0-improvement_pct": "10",
    "medications-0-current_episode": "yes",
    "medications-0-stopped_early": "no",
    "medications-1-drug": "escitalopram",
    "medications-1-weeks": "8",
    "medications-1-improvement_pct": "20",
    "medications-1-current_episode": "yes",
    "medications-1-stopped_early": "no",
    **{name: value for name, value in DEFAULT_ANSWERS["treatments"].items() if not name.startswith("medications-")},
}
SUMMARY = [
    f"Medicine 1: {OTHER_NAME}: Enter the name of the medicine.",
    f"Medicine 2 (Escitalopram): {DOSE}: Enter the highest daily dose in mg.",
]


def medicine(page: Page, number: int) -> Locator:
    """Return the group of inputs "Medicine <number>"."""
    return page.locator("form.step-form").get_by_role("group", name=f"Medicine {number}", exact=True)


def send_with_errors(page: Page) -> None:
    """Send the rows of ``ROWS_WITH_ERRORS`` and wait for the server's answer."""
    fill_step(page, "treatments", ROWS_WITH_ERRORS)
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Save and continue", exact=True).click()
    assert posted.value.status == 422
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text(SUMMARY)


def test_the_name_field_shows_only_for_another_medicine(page: Page, live_server: LiveServer, axe: AxeChecker) -> None:
    answer_steps(page, live_server.url, until="treatments")
    row = medicine(page, 1)
    expect(row.get_by_label(OTHER_NAME)).to_be_hidden()
    fill_medicine(page, 0, {"drug": "sertraline"})
    expect(row.get_by_label(OTHER_NAME)).to_be_hidden()
    fill_medicine(page, 0, {"drug": "other"})
    expect(row.get_by_label(OTHER_NAME)).to_be_visible()
    axe.check(page, "treatments with another medicine chosen")
    fill_medicine(page, 0, {"drug": ""})
    expect(row.get_by_label(OTHER_NAME)).to_be_hidden()
    axe.check(page, "treatments with no medicine chosen")

    send_with_errors(page)
    expect(medicine(page, 1).get_by_label(OTHER_NAME)).to_be_visible()
    expect(medicine(page, 2).get_by_label(OTHER_NAME)).to_be_hidden()
    axe.check(page, "treatments with errors in two medicine rows")
    page.get_by_role("link", name=SUMMARY[1]).click()
    expect(medicine(page, 2).get_by_label(DOSE)).to_be_focused()
    page.get_by_role("link", name=SUMMARY[0]).click()
    expect(medicine(page, 1).get_by_label(OTHER_NAME)).to_be_focused()
    assert not axe.found, axe.report()


def test_without_javascript_every_row_shows_the_name_field(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    """axe runs scripts in the page, so it cannot check here; the pages still go to the Nu checker."""
    page = new_context(java_script_enabled=False).new_page()
    answer_steps(page, live_server.url, until="treatments")
    fill_medicine(page, 0, {"drug": "sertraline"})
    expect(medicine(page, 1).get_by_label(OTHER_NAME)).to_be_visible()

    send_with_errors(page)
    expect(medicine(page, 1).get_by_label(OTHER_NAME)).to_be_visible()
    expect(medicine(page, 2).get_by_label(OTHER_NAME)).to_be_visible()


def test_a_name_hidden_by_choosing_a_listed_medicine_is_not_sent(page: Page, live_server: LiveServer) -> None:
    """A name typed for "Another medicine" and then hidden goes nowhere: not in the post, not into the draft."""
    answer_steps(page, live_server.url, until="treatments")
    fill_medicine(page, 0, {"drug": "other", "other_name": "Zuranolone"})
    fill_medicine(page, 0, {"drug": "sertraline"})
    fill_step(page, "treatments", {**ROWS_WITH_ERRORS, "medications-0-drug": "sertraline"})
    with page.expect_request(lambda request: request.method == "POST") as posted:
        page.get_by_role("button", name="Save and continue", exact=True).click()
    assert "medications-0-drug=sertraline" in (posted.value.post_data or "")
    assert "Zuranolone" not in (posted.value.post_data or "")
    fill_medicine(page, 0, {"drug": "other"})
    expect(medicine(page, 1).get_by_label(OTHER_NAME)).to_be_enabled()
