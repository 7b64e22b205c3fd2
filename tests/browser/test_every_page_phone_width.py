"""Every page of the app at 375 x 667 CSS pixels, as the person who uses it: no page scrolls sideways.

``test_clinic_phone_width`` and ``test_patient_phone_width`` check the pages people use most on a phone; this file
checks the rest: the sign-in and error pages, every step of the intake, the check-your-answers page, saving and
resuming, the support page, the adults-only page, the confirmation of each outcome, the status page, a routine
submission, the admins' contact page, and the rule pages for diffs, versions and dry runs.
``test_every_page_is_opened_on_a_phone`` builds the list of pages from the app's URL map, so a page added later
fails it until one of the three files opens it (or it is listed below as not a page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.models import Submission
from tests.accounts import Users
from tests.patient import DEFAULT_ANSWERS
from tests.patient import STEP_ORDER
from tests.patient import Answers
from tests.patient import rows
from tests.test_backtest import store_fixture
from tests.test_dry_run_views import draft_moving_fibromyalgia
from tests.test_tuning_views import STRICTER

from . import test_clinic_phone_width
from . import test_patient_phone_width
from .conftest import AxeChecker
from .conftest import LiveServer
from .phone import PHONE
from .phone import check_fits
from .phone import checked_routes
from .test_outcomes import THERAPIES_ONLY
from .test_review_pages import FOUR_CASES
from .test_review_pages import seed
from .test_tuning_pages import saved_draft
from .test_tuning_pages import sign_in
from .wizard import answer_steps
from .wizard import fill_step
from .wizard import post_steps
from .wizard import press_next
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
STEP = "/intake/<key>"

#: GET routes that answer with something other than a page, so there is nothing to lay out on a phone.
NOT_PAGES = {
    "/static/<path:filename>",  # stylesheets, scripts, the icon
    "/favicon.ico",  # the icon
    "/admin/audit.csv",  # CSV download of the audit log
    "/admin/exports/dictionary.csv",  # CSV download: the data dictionary
    "/admin/submissions/<int:submission_id>/fhir",  # FHIR R4 JSON download
    "/review/submissions/<int:submission_id>/fhir",  # FHIR R4 JSON download
    "/rules/dry-runs/<int(max=2147483647):run_id>/progress",  # JSON the dry-run page polls
}

#: The routes of the pages each test checks.
PATIENT_PAGES = {
    "/login",
    STEP,
    "/intake/review",
    "/intake/saved",
    "/intake/done",
    "/status/<token>",
    "/resume",
    "/resume/<token>",
}
SAFETY_AND_AGE_PAGES = {"/intake/support", "/adults-only"}
OUTCOME_PAGES = {"/intake/review", "/intake/done"}
CLINIC_PAGES = {
    "/review/",  # refused to staff: the 403 page
    "/review/submissions/<int:submission_id>",
    "/admin/submissions/<int:submission_id>/contact",
    "/rules/diff",
    "/rules/versions/<int(max=2147483647):version_id>",
    "/rules/versions/<int(max=2147483647):version_id>/files/<path:name>",
    "/rules/versions/<int(max=2147483647):version_id>/tests",
    "/rules/drafts/<int(max=2147483647):draft_id>",
    "/rules/dry-runs/<int(max=2147483647):run_id>",
}
PAGES = PATIENT_PAGES | SAFETY_AND_AGE_PAGES | OUTCOME_PAGES | CLINIC_PAGES


def test_every_page_is_opened_on_a_phone(app: Flask) -> None:
    every = {rule.rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    opened = PAGES | test_clinic_phone_width.PAGES | test_patient_phone_width.PAGES
    assert every - NOT_PAGES - opened == set(), "pages no phone-width test opens"
    assert NOT_PAGES - every == set() and opened - every == set(), "routes listed that the app no longer has"


def walk_the_intake(page: Page, live_server: LiveServer, axe: AxeChecker) -> None:
    """Answer every step, checking each page; stop on the check-your-answers page."""
    page.goto(live_server("/"))
    fill_step(page, "welcome")
    press_next(page, STEP_ORDER[1], "Start")
    for key, following in zip(STEP_ORDER[1:], (*STEP_ORDER[2:], "review"), strict=True):
        check_fits(page, axe, f"step {key}")
        fill_step(page, key)
        press_next(page, following)
    check_fits(page, axe, "check your answers")


def test_the_sign_in_error_and_intake_pages_fit_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, axe: AxeChecker
) -> None:
    page = new_context(viewport=PHONE).new_page()
    page.goto(live_server("/login"))
    check_fits(page, axe, "sign in")
    missing = page.goto(live_server("/no-such-page"))
    assert missing is not None and missing.status == 404
    check_fits(page, axe, "not found")
    dead = page.goto(live_server("/resume/not-a-real-link"))
    assert dead is not None and dead.status >= 400
    check_fits(page, axe, "dead resume link")

    walk_the_intake(page, live_server, axe)
    page.goto(live_server("/intake/contact"))
    page.get_by_role("button", name="Save and finish later").click()
    expect(page).to_have_url(live_server("/intake/saved"))
    check_fits(page, axe, "saved")
    link = page.locator("a.resume-link").first.get_attribute("href")
    assert link and link.startswith(live_server("/resume/"))

    other = new_context(viewport=PHONE).new_page()
    answer_steps(other, live_server.url, until="pain")
    other.goto(link)
    expect(other).to_have_url(live_server("/resume"))
    check_fits(other, axe, "resume question")

    page.goto(live_server("/intake/review"))
    reference = send_answers(page)
    check_fits(page, axe, "confirmation: candidate", (reference,))
    status = page.locator("#status-link").get_attribute("href")
    assert status
    page.goto(status)
    check_fits(page, axe, "status")
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == PATIENT_PAGES


def test_the_support_and_adults_only_pages_fit_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, axe: AxeChecker
) -> None:
    page = new_context(viewport=PHONE).new_page()
    answer_steps(page, live_server.url, until="mood")
    fill_step(page, "mood", {**DEFAULT_ANSWERS["mood"], "phq9_9": "2"})
    press_next(page, "support")
    check_fits(page, axe, "support")

    young = new_context(viewport=PHONE).new_page()
    answer_steps(young, live_server.url, until="age")
    fill_step(young, "age", {"age": "16"})
    press_next(young, "adults-only")
    check_fits(young, axe, "adults only")
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == SAFETY_AND_AGE_PAGES


#: Answers (by step) that end on each outcome the confirmation page words differently; the candidate's is above.
OUTCOMES: dict[str, dict[str, Answers]] = {
    "counseling": {"treatments": THERAPIES_ONLY},
    "not_candidate": {"pain": {**DEFAULT_ANSWERS["pain"], "pain_areas": ["neck"]}, "treatments": THERAPIES_ONLY},
    "contraindication_review": {"history": {"medical_history": ["psychosis"], "current_medications_none": "y"}},
}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_confirmation_of_each_outcome_fits_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, axe: AxeChecker, outcome: str
) -> None:
    page = new_context(viewport=PHONE).new_page()
    post_steps(page, live_server.url, overrides=OUTCOMES[outcome])
    check_fits(page, axe, f"check your answers: {outcome}")
    reference = send_answers(page)
    check_fits(page, axe, f"confirmation: {outcome}", (reference,))
    [submission] = rows(app, Submission)
    assert submission.outcome == outcome
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == OUTCOME_PAGES


def test_the_other_clinic_pages_fit_a_phone(
    new_context: NewContext, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker, tmp_path: Path
) -> None:
    stored = seed(app, *FOUR_CASES)
    routine = stored["CAND-0001"].id
    physician = new_context(viewport=PHONE).new_page()
    sign_in(physician, live_server, users, users.create("physician"), lands_on="/review/")
    physician.goto(live_server(f"/review/submissions/{routine}"))
    check_fits(physician, axe, "routine submission", ("CAND-0001",))

    admin = new_context(viewport=PHONE).new_page()
    sign_in(admin, live_server, users, users.create("admin"), lands_on="/admin/users")
    admin.goto(live_server(f"/admin/submissions/{routine}/contact"))
    check_fits(admin, axe, "contact details for an admin", ("CAND-0001",))

    store_fixture(app)
    staff_user = users.create("staff")
    staff = new_context(viewport=PHONE).new_page()
    sign_in(staff, live_server, users, staff_user, lands_on="/rules/")
    refused = staff.goto(live_server("/review/"))
    assert refused is not None and refused.status == 403
    check_fits(staff, axe, "refused")
    draft_id, version_id = saved_draft(app, staff_user, "Stricter PHQ-9", lambda text: text.replace(*STRICTER))
    staff.goto(live_server(f"/rules/diff?left=v{version_id}&right=d{draft_id}"))
    expect(staff.locator("tr.diff-changed")).to_have_count(1)
    check_fits(staff, axe, "diff")
    staff.goto(live_server(f"/rules/versions/{version_id}"))
    check_fits(staff, axe, "stored version")
    staff.get_by_role("link", name="candidates.yaml").click()
    check_fits(staff, axe, "stored version: one file")
    staff.goto(live_server(f"/rules/versions/{version_id}/tests"))
    check_fits(staff, axe, "stored version: tests")

    moving = draft_moving_fibromyalgia(app, staff_user, tmp_path / "candidate")
    staff.goto(live_server(f"/rules/drafts/{moving}"))
    check_fits(staff, axe, "draft with a dry-run form")
    staff.get_by_role("button", name="Start the dry run").click()
    expect(staff.get_by_role("heading", name="Outcomes before and after")).to_be_visible()
    check_fits(staff, axe, "dry run: result")
    assert not axe.found, axe.report()
    assert checked_routes(app, axe) == CLINIC_PAGES
