"""The FHIR download in a real browser: the link on the physician's and the admin's submission pages gives the
Bundle as a file, and both pages still pass axe (and, with every page checked, the Nu HTML checker)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.accounts import Users

from .conftest import AxeChecker
from .conftest import LiveServer
from .test_review_pages import seed
from .test_review_pages import sign_in

pytestmark = pytest.mark.browser


def _download(page: Page, name: str) -> dict:
    """Follow the download link named ``name``; return the file it saves, read as JSON."""
    link = page.get_by_role("link", name=name)
    expect(link).to_have_attribute("download", "")
    with page.expect_download() as download:
        link.click()
    return json.loads(download.value.path().read_text(encoding="utf-8"))


def test_physicians_and_admins_download_the_bundle_from_the_submission_page(
    page: Page, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    cases = seed(app, ("FHIR-0001", {}, timedelta(hours=2)))
    submission_id = cases["FHIR-0001"].id
    sign_in(page, live_server, users, users.create("physician"))
    page.goto(live_server(f"/review/submissions/{submission_id}"))
    bundle = _download(page, "Download as FHIR R4 (JSON)")
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    axe.check(page, "review detail: with the FHIR download link")

    page.get_by_role("button", name="Sign out").click()
    admin = users.create("admin")
    page.goto(live_server("/admin/users"))
    page.get_by_label("Email address").fill(admin.email)
    page.get_by_label("Password").fill(users.password_of(admin))
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server(f"/admin/submissions/{submission_id}/contact"))
    bundle = _download(page, "Download the submission as FHIR R4 (JSON)")
    assert [entry["resource"]["resourceType"] for entry in bundle["entry"]][:2] == [
        "Questionnaire",
        "QuestionnaireResponse",
    ]
    axe.check(page, "admin submission page: with the FHIR download link")
    assert not axe.found, axe.report()
