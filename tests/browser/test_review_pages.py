"""The physicians' pages in a real browser: the journey through the queue, XSS payloads, and axe on every state."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.db import new_session
from screening.models import Alert
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.active_rules import require_ruleset
from tests.accounts import Users
from tests.patient import DEFAULT_ANSWERS
from tests.test_review_views import COUNSELING
from tests.test_review_views import CONTRAINDICATION
from tests.test_review_views import SAFETY
from tests.test_review_views import XSS
from tests.test_review_views import document
from tests.test_review_views import now
from tests.test_review_views import store_case

from .conftest import AxeChecker
from .conftest import LiveServer
from .wizard import answer_steps
from .wizard import fill_step
from .wizard import press_next
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
NOTE = "Spoke to the patient on the phone; invite to a consultation."
OTHER_NAME = "Name of the other medicine"


def seed(app: Flask, *cases: tuple[str, dict[str, object], timedelta]) -> dict[str, Submission]:
    """Store submissions decided by the real rules: (reference, answers changes, time waited) each."""
    ruleset = require_ruleset(app)
    with new_session(app) as session:
        stored = {
            reference: store_case(session, ruleset, document(**changes), waited=waited, reference=reference)
            for reference, changes, waited in cases
        }
        session.commit()
    return stored


#: One submission of each outcome the queue lists, and one it does not (counseling): (reference, changes, waited).
FOUR_CASES = (
    ("CAND-0001", {}, timedelta(days=2)),
    ("CONT-0001", CONTRAINDICATION, timedelta(hours=6)),
    ("SAFE-0001", SAFETY, timedelta(minutes=30)),
    ("COUN-0001", COUNSELING, timedelta(hours=1)),
)


def sign_in(page: Page, live_server: LiveServer, users: Users, user: User) -> None:
    """Sign in through the sign-in page, as a physician would, and land on the queue."""
    page.goto(live_server("/review/"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(users.password_of(user))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server("/review/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")


def queue_references(page: Page) -> list[str]:
    """Return the reference codes of the queue's rows, top first."""
    return [text.strip() for text in page.locator("table.queue tbody th a").all_inner_texts()]


def no_dialogs(page: Page) -> list[str]:
    """Record every dialog the page opens (an alert() from injected script would be one) and dismiss it."""
    opened: list[str] = []

    def record(dialog: object) -> None:
        opened.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", record)
    return opened


def assert_nothing_injected(page: Page) -> None:
    """Check that no payload became markup: no image, no script inside the page's main content."""
    expect(page.locator("main img")).to_have_count(0)
    expect(page.locator("main script")).to_have_count(0)


# --- The journey ----------------------------------------------------------------------------------


def test_a_physician_works_the_top_safety_case(page: Page, app: Flask, live_server: LiveServer, users: Users) -> None:
    seed(app, *FOUR_CASES)
    physician = users.create("physician", email="dr.ada@clinic.test")
    sign_in(page, live_server, users, physician)

    assert queue_references(page) == ["SAFE-0001", "CONT-0001", "CAND-0001"]
    top = page.locator("table.queue tbody tr").first
    expect(top).to_contain_text("Safety")
    expect(top).to_contain_text("30 min")
    top.get_by_role("link", name="SAFE-0001").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SAFE-0001")
    expect(page.get_by_role("heading", name="Why this outcome")).to_be_visible()
    expect(page.get_by_text("safety-self-harm").first).to_be_visible()

    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_have_text("You have claimed this submission.")
    decision = page.get_by_role("group", name="Decision")
    decision.get_by_label("Invite to a consultation").check()
    page.get_by_label("Note (required)").fill(NOTE)
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text("Decision recorded: Invite to a consultation.")
    expect(page.locator("table.history")).to_contain_text(NOTE)
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()

    page.get_by_role("link", name="Back to the queue").click()
    assert queue_references(page) == ["CONT-0001", "CAND-0001"]
    page.get_by_label("Status", exact=True).select_option(label="Decided")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"status=decided"))
    assert queue_references(page) == ["SAFE-0001"]
    expect(page.locator("table.queue tbody tr").first).to_contain_text("dr.ada@clinic.test")


# --- XSS --------------------------------------------------------------------------------------------


def test_typed_payloads_render_inert(
    page: Page, new_context: NewContext, app: Flask, live_server: LiveServer, users: Users
) -> None:
    patient_dialogs = no_dialogs(page)
    treatments = {**DEFAULT_ANSWERS["treatments"], "medications-1-drug": "other", "medications-1-other_name": XSS[0]}
    answer_steps(page, live_server.url, until="treatments")
    fill_step(page, "treatments", treatments)
    medicine = page.get_by_role("group", name="Medicine 2", exact=True)
    for payload in XSS:  # the wizard refuses markup in a medicine name and shows it back as typed
        medicine.get_by_label(OTHER_NAME).fill(payload)
        page.get_by_role("button", name="Save and continue", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("Type the medicine's name using letters")
        expect(page.get_by_role("group", name="Medicine 2", exact=True).get_by_label(OTHER_NAME)).to_have_value(payload)
        assert_nothing_injected(page)
    medicine.get_by_label(OTHER_NAME).fill("agomelatine")
    press_next(page, "history")
    fill_step(page, "history")
    press_next(page, "contact")
    fill_step(page, "contact")
    press_next(page, "review")
    from_wizard = send_answers(page)
    assert patient_dialogs == []

    # A stored answer that carries markup (an older form, an import) must render as text too.
    seed(
        app,
        (
            "XSS0-0001",
            {"medication_trials": [{**document()["medication_trials"][0], "drug": XSS[0]}]},
            timedelta(hours=1),
        ),
    )
    doctor = new_context().new_page()
    dialogs = no_dialogs(doctor)
    sign_in(doctor, live_server, users, users.create("physician"))
    # Each has a single adequate trial, so no TRD: counseling, listed among the submissions needing no action.
    doctor.get_by_role("link", name=re.compile("^No action needed")).click()
    expect(doctor.get_by_role("link", name=from_wizard)).to_be_visible()

    doctor.get_by_role("link", name="XSS0-0001").click()
    expect(doctor.locator("table.trials tbody th").first).to_have_text(XSS[0])
    expect(doctor.locator("#answers-treatments ~ dl dt").first).to_have_text(XSS[0])
    assert_nothing_injected(doctor)

    doctor.goto(live_server("/review/?list=none"))
    doctor.get_by_role("link", name=from_wizard).click()
    expect(doctor.locator("table.trials")).to_contain_text("agomelatine")
    note = f"{XSS[0]} and {XSS[1]}"
    doctor.get_by_role("group", name="Decision").get_by_label("Decline (give the reason in the note)").check()
    doctor.get_by_label("Note (required)").fill(note)
    doctor.get_by_label("Show this note to the patient").check()
    doctor.get_by_role("button", name="Record the decision").click()
    expect(doctor.get_by_role("status")).to_contain_text("Decision recorded")
    expect(doctor.locator(".note-text").last).to_have_text(note)
    doctor.get_by_label("Why are you reopening it? (optional)").fill(XSS[1])
    doctor.get_by_role("button", name="Reopen").click()
    expect(doctor.get_by_role("status")).to_contain_text("open again")
    expect(doctor.locator(".note-text").last).to_have_text(XSS[1])
    assert_nothing_injected(doctor)
    doctor.goto(live_server("/review/"))
    assert_nothing_injected(doctor)
    assert dialogs == []


# --- Accessibility ----------------------------------------------------------------------------------


def test_axe_finds_no_violation_on_the_physician_pages(
    page: Page, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    cases = seed(
        app,
        ("SAFE-0002", SAFETY, timedelta(hours=3)),
        ("CAND-0002", {}, timedelta(days=2)),
        ("TAKE-0002", {}, timedelta(days=1)),
        ("COUN-0002", COUNSELING, timedelta(hours=5)),
    )
    colleague = users.create("physician", email="colleague@clinic.test")
    with new_session(app) as session:
        session.add(Alert(submission_id=cases["SAFE-0002"].id, created_at=now(), status="failed", attempts=5))
        session.add(Alert(submission_id=cases["SAFE-0002"].id, created_at=now(), status="sent", kind="escalation"))
        service.claim(session, cases["TAKE-0002"].id, session.get_one(User, colleague.id), now())
        session.commit()
    sign_in(page, live_server, users, users.create("physician"))

    expect(page.get_by_text("Not sent: alerts not configured")).to_be_visible()  # the test app sets no recipients
    expect(page.locator("table.queue tbody tr").first.get_by_text("Escalated", exact=True)).to_be_visible()
    axe.check(page, "queue: needs action, with a failed alert and an escalated one")
    page.get_by_role("link", name=re.compile("^No action needed")).click()
    expect(page.get_by_role("link", name="COUN-0002")).to_be_visible()
    axe.check(page, "queue: no action needed")
    page.get_by_role("link", name=re.compile("^Needs action")).click()
    page.get_by_label("Outcome", exact=True).select_option(label="Candidate for physician review")
    page.get_by_label("Assigned to", exact=True).select_option(label="Anyone")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"outcome=candidate"))
    axe.check(page, "queue: filtered")
    page.goto(live_server("/review/?status=lost"))
    expect(page.get_by_role("alert")).to_contain_text("left out")
    axe.check(page, "queue: with an error message")

    page.goto(live_server(f"/review/submissions/{cases['SAFE-0002'].id}"))
    axe.check(page, "detail: open")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_be_visible()
    axe.check(page, "detail: claimed, with a message")
    page.get_by_role("button", name="Record the safety follow-up").click()  # no result chosen: the browser asks
    expect(
        page.get_by_role("group", name="Result of the contact attempt").get_by_label("Reached", exact=True)
    ).to_be_focused()
    result = page.get_by_role("group", name="Result of the contact attempt")
    result.get_by_label("Not reached, message left").check()
    page.get_by_label("What happened (required)").fill("Called the patient; left a message to call back.")
    page.get_by_role("button", name="Record the safety follow-up").click()
    expect(page.get_by_role("status")).to_contain_text("Decision recorded: Safety follow-up done.")
    expect(page.locator("table.history")).to_contain_text("Result of the contact attempt: Not reached, message left")
    axe.check(page, "detail: decided")

    page.goto(live_server(f"/review/submissions/{cases['TAKE-0002'].id}"))
    expect(page.get_by_role("button", name="Take over")).to_be_visible()
    axe.check(page, "detail: claimed by someone else")

    page.goto(live_server(f"/review/submissions/{cases['CAND-0002'].id}"))
    with new_session(app) as session:  # a colleague claims it while this page is open
        service.claim(session, cases["CAND-0002"].id, session.get_one(User, colleague.id), now())
        session.commit()
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("alert")).to_contain_text(service.CLAIMED_BY_OTHER)
    axe.check(page, "detail: with an error message")

    assert not axe.found, axe.report()
