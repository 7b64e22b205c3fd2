"""Fill the intake in a real browser as a person would: by reading labels, legends and button names.

The answers are the realistic defaults of ``tests.patient.DEFAULT_ANSWERS``; the labels a
person reads are looked up in the step's own WTForms form, so the helper never hard-codes
a question's wording or an option's position.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode
from typing import Iterable
from typing import Mapping

from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect
from wtforms import BooleanField
from wtforms import Field
from wtforms import RadioField
from wtforms import SelectField
from wtforms import SelectMultipleField

from screening.patient.intake import forms
from screening.patient.intake import steps
from tests.patient import DEFAULT_ANSWERS
from tests.patient import STEP_ORDER
from tests.patient import posted_pairs
from tests.patient import step_path

Answers = Mapping[str, str | Iterable[str]]
REFERENCE = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}$")
MEDICATION = re.compile(r"^medications-(\d+)-(\w+)$")
#: The headers of a form post.
FORM_POST = {"Content-Type": "application/x-www-form-urlencoded"}


def path_of(key: str) -> re.Pattern[str]:
    """Return a pattern matching the address of a page of the wizard (any query or fragment allowed)."""
    path = "/adults-only" if key == "adults-only" else step_path(key)
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(?:[?#].*)?$")


def _option_label(field: Field, value: str) -> str:
    """Return the label a person reads for the option of ``field`` whose value is ``value``."""
    for option in field:
        if str(option.data) == str(value):
            return option.label.text
    raise LookupError(f"{field.name} has no option {value!r}")


def fill_field(scope: Locator, field: Field, value: str | Iterable[str]) -> None:
    """Answer one question inside ``scope`` the way a person would."""
    if isinstance(field, BooleanField):
        box = scope.get_by_label(field.label.text, exact=True)
        box.check() if value else box.uncheck()
    elif isinstance(field, SelectMultipleField):
        group = scope.get_by_role("group", name=field.label.text)
        for each in [value] if isinstance(value, str) else value:
            group.get_by_label(_option_label(field, each), exact=True).check()
    elif isinstance(field, RadioField):
        group = scope.get_by_role("group", name=field.label.text)
        group.get_by_label(_option_label(field, str(value)), exact=True).check()
    elif isinstance(field, SelectField):
        label = next(choice.label for choice in field.iter_choices() if choice.value == value)
        scope.get_by_label(field.label.text, exact=True).select_option(label=label)
    else:
        scope.get_by_label(field.label.text, exact=True).fill(str(value))


def fill_step(page: Page, key: str, answers: Answers | None = None) -> None:
    """Answer every question of a step; medicine rows go in the matching "Medicine N" group."""
    answers = DEFAULT_ANSWERS[key] if answers is None else answers
    form = steps.BY_KEY[key].form()
    scope = page.locator("form.step-form")
    rows: dict[int, dict[str, str]] = {}
    for name, value in answers.items():
        medication = MEDICATION.match(name)
        if medication:
            rows.setdefault(int(medication.group(1)), {})[medication.group(2)] = str(value)
        else:
            fill_field(scope, form[name], value)
    for index, row in sorted(rows.items()):
        if index > 0 and scope.get_by_role("group", name=f"Medicine {index + 1}", exact=True).count() == 0:
            page.get_by_role("button", name="Add another medicine").click()
            expect(page.get_by_role("group", name=f"Medicine {index + 1}", exact=True)).to_be_visible()
        fill_medicine(page, index, row)


def fill_medicine(page: Page, index: int, row: Mapping[str, str]) -> None:
    """Fill in the medicine row shown as "Medicine <index + 1>"."""
    group = page.locator("form.step-form").get_by_role("group", name=f"Medicine {index + 1}", exact=True)
    fields = forms.MedicationTrialForm()
    for name, value in row.items():
        fill_field(group, fields[name], value)


def press_next(page: Page, expected: str, button: str = "Save and continue") -> None:
    """Press the step's main button and wait for the page ``expected`` (a step key, "review", ...)."""
    page.get_by_role("button", name=button, exact=True).click()
    expect(page).to_have_url(path_of(expected))


def answer_steps(
    page: Page, base_url: str, *, until: str | None = None, overrides: Mapping[str, Answers] | None = None
) -> None:
    """Open the welcome page and answer every step in order, stopping on step ``until``."""
    page.goto(base_url + "/")
    order = list(STEP_ORDER)
    for position, key in enumerate(order):
        if key == until:
            return
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        fill_step(page, key, (overrides or {}).get(key))
        following = order[position + 1] if position + 1 < len(order) else "review"
        press_next(page, following, "Start" if key == "welcome" else "Save and continue")


def post_steps(page: Page, base_url: str, *, overrides: Mapping[str, Answers] | None = None) -> None:
    """Send every step's answers as its form would, from the page's own browser session, and open the review page.

    For tests of the pages after the wizard: the steps themselves are filled in by hand in ``answer_steps``. The
    posts go through the browser context's cookies and the form token the welcome page shows.
    """
    page.goto(base_url + "/")
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token, "the welcome page has no form token"
    for key in STEP_ORDER:
        answers = (overrides or {}).get(key) or DEFAULT_ANSWERS[key]
        body = urlencode([*posted_pairs(answers), ("csrf_token", token), ("action", "next")])
        posted = page.request.post(base_url + step_path(key), data=body, headers=FORM_POST, max_redirects=0)
        assert posted.status == 302, (key, posted.status, posted.text()[:500])
    page.goto(base_url + "/intake/review")


def send_answers(page: Page) -> str:
    """Press "Send my answers" on the review page and return the reference code shown."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before you send them")
    page.get_by_role("button", name="Send my answers").click()
    expect(page).to_have_url(path_of("done"))
    code = page.locator("#reference-code")
    expect(code).to_be_visible()
    reference = code.inner_text().strip()
    assert REFERENCE.fullmatch(reference), reference
    return reference


def answer_with_thoughts_of_self_harm(page: Page, base_url: str) -> None:
    """Answer every step, with PHQ-9 item 9 above 0, up to the review page."""
    answer_steps(page, base_url, until="mood")
    fill_step(page, "mood", {**DEFAULT_ANSWERS["mood"], "phq9_9": "2"})
    press_next(page, "support")
    page.get_by_role("link", name="Continue the form").click()
    for key, following in (
        ("anxiety", "sleep"),
        ("sleep", "treatments"),
        ("treatments", "history"),
        ("history", "contact"),
        ("contact", "review"),
    ):
        fill_step(page, key)
        press_next(page, following)
