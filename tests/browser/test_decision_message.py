"""The decision reaches the patient, in a real browser: a candidate who gave an e-mail and consented, a physician
who invites them to a consultation, and the invitation arriving at a real SMTP server (tasks run at once)."""

from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.accounts import Users
from tests.mail import SMTPServer
from tests.mail import body_of
from tests.patient import CONTACT_DETAILS

from .conftest import AxeChecker
from .conftest import LiveServer
from .test_review_pages import sign_in
from .wizard import post_steps
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
NOTE = "Good candidate; invite to a consultation."


def test_the_physicians_invitation_arrives_in_the_patients_mailbox(
    page: Page,
    new_context: NewContext,
    app: Flask,
    live_server: LiveServer,
    users: Users,
    smtp: SMTPServer,
    axe: AxeChecker,
) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_FROM="screening@clinic.example", SMTP_TIMEOUT=5)
    post_steps(page, live_server.url, overrides={"contact": CONTACT_DETAILS})
    reference = send_answers(page)

    doctor = new_context().new_page()
    sign_in(doctor, live_server, users, users.create("physician", email="dr.bea@clinic.test"))
    doctor.get_by_role("link", name=reference).click()
    expect(doctor.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(doctor.get_by_role("heading", name="Messages to the patient")).to_be_visible()
    doctor.get_by_role("button", name="Claim").click()
    expect(doctor.get_by_role("status")).to_have_text("You have claimed this submission.")
    doctor.get_by_role("group", name="Decision").get_by_label("Invite to a consultation").check()
    doctor.get_by_label("Note (required)").fill(NOTE)
    doctor.get_by_role("button", name="Record the decision").click()
    expect(doctor.get_by_role("status")).to_contain_text("Decision recorded: Invite to a consultation.")

    [received] = smtp.messages
    assert received.rcpt_tos == [CONTACT_DETAILS["email"]]
    assert received.message["Subject"] == f"Your invitation to a consultation ({reference})"
    body = body_of(received)
    assert reference in body and "consultation" in body
    assert NOTE not in body  # the note was not marked for the patient
    messages = doctor.get_by_role("region", name="Messages to the patient", exact=True)
    expect(messages).to_contain_text("Invitation to a consultation")
    expect(messages).to_contain_text("Sent ")
    expect(doctor.locator("table.history")).to_contain_text("Attempt 1 sent")
    axe.check(doctor, "review: a decided submission with its message to the patient")
    assert not axe.found, "axe found violations:\n" + axe.report()
