"""axe (WCAG 2.2 AA) finds no violation on the patient's status page and the admins' audit page, in every state."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening import audit
from screening.db import new_session
from screening.models import User
from screening.review import service
from screening.patient.status.service import issue_status_token
from tests.accounts import DEFAULT_PASSWORD
from tests.accounts import Users
from tests.test_review_service import add_submission

from .conftest import AxeChecker
from .conftest import LiveServer

pytestmark = pytest.mark.browser


def status_tokens(app: Flask, users: Users) -> dict[str, str]:
    """Add submissions in each state the patient can see; return their status tokens by state."""
    doctor_id = users.create("physician").id
    now = datetime.now(UTC)
    with new_session(app) as session:
        doctor = session.get_one(User, doctor_id)
        received = add_submission(session, "candidate")
        safety = add_submission(session, "safety")
        decided = add_submission(session, "candidate")
        tokens = {
            name: issue_status_token(s)
            for name, s in (("received", received), ("safety", safety), ("contact", decided))
        }
        session.flush()
        service.claim(session, safety.id, doctor, now)
        service.decide(session, decided.id, doctor, "consult", "We will call you this week to book a visit.", True, now)
        session.commit()
    return tokens


def test_axe_finds_no_violation_on_the_status_pages(
    app: Flask, page: Page, live_server: LiveServer, axe: AxeChecker, users: Users
) -> None:
    tokens = status_tokens(app, users)
    page.goto(live_server(f"/status/{tokens['received']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Status of your request")
    expect(page.locator("#status-state")).to_have_text("Received")
    axe.check(page, "status: received")

    page.goto(live_server(f"/status/{tokens['safety']}"))
    expect(page.locator("#status-state")).to_have_text("Under review")
    expect(page.get_by_role("region", name="Help is available right now")).to_be_visible()
    axe.check(page, "status: under review, with crisis resources")

    page.goto(live_server(f"/status/{tokens['contact']}"))
    expect(page.locator("#status-state")).to_have_text("A clinician will contact you")
    expect(page.get_by_role("heading", name="A note from your clinician")).to_be_visible()
    axe.check(page, "status: a clinician will contact you, with a note")

    response = page.goto(live_server("/status/not-a-real-token"))
    assert response is not None and response.status == 404
    axe.check(page, "status: unknown link")

    assert not axe.found, axe.report()
    assert len(axe.checked) == 4


def test_axe_finds_no_violation_on_the_audit_page(
    app: Flask, page: Page, live_server: LiveServer, axe: AxeChecker, users: Users
) -> None:
    users.create("admin", email="admin@clinic.test")
    start = datetime(2020, 3, 2, tzinfo=UTC)
    with new_session(app) as session:
        for number in range(60):
            audit.record(
                session,
                actor="patient",
                action="submission.created",
                subject_type="submission",
                subject_id=number + 1,
                at=start + timedelta(minutes=number),
                remote_addr="203.0.113.5",
                details={"form_version": "v1", "safety_flag": number % 7 == 0},
            )
        session.commit()

    page.goto(live_server("/admin/audit"))
    page.get_by_label("Email address").fill("admin@clinic.test")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server("/admin/audit"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    axe.check(page, "audit log")

    page.get_by_role("link", name="Older events").click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?before="))
    expect(page.get_by_role("link", name="Newest events")).to_be_visible()
    axe.check(page, "audit log, older events")

    page.get_by_label("Action").fill("submission.created")
    page.get_by_label("Subject id").fill("seven")
    page.get_by_role("button", name="Show events").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a whole number")
    assert page.title().startswith("Error: ")
    axe.check(page, "audit log, filters with an error")

    page.get_by_label("Subject id").fill("7")
    page.get_by_role("button", name="Show events").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    axe.check(page, "audit log, filtered")

    page.get_by_label("Action").fill("review.*")
    page.get_by_role("button", name="Show events").click()
    expect(page.locator("#no-events")).to_be_visible()
    axe.check(page, "audit log, nothing matches")

    page.get_by_role("link", name="Users").click()
    expect(page).to_have_url(live_server("/admin/users"))

    assert not axe.found, axe.report()
    assert len(axe.checked) == 5
