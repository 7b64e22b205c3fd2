"""Urgent alerts without a mail server or recipients: the queue says so, and the rules and admin homes name the fix."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import orm

from screening import alerts
from screening.db import new_session
from screening.models import Alert

from .accounts import Auth
from .test_review_service import add_submission

CONFIGURED = {"ALERT_RECIPIENTS": ["oncall@clinic.example"], "SMTP_HOST": "mail.clinic.example"}
SETUP_NOTICE = "Urgent alerts are not configured"


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


def failed_alert_page(client: FlaskClient, db: orm.Session, path: str) -> str:
    """Store a safety submission whose alert failed; return ``path`` (``{id}``: its number) as a reader sees it."""
    submission = add_submission(db, "safety")
    db.add(Alert(submission_id=submission.id, created_at=datetime.now(UTC), status="failed", attempts=1))
    db.commit()
    return html.unescape(client.get(path.format(id=submission.id)).get_data(as_text=True))


@pytest.mark.parametrize("path", ["/review/", "/review/submissions/{id}"])
def test_without_mail_settings_a_failed_alert_reads_alerts_not_configured(
    app: Flask, client: FlaskClient, db: orm.Session, auth: Auth, path: str
) -> None:
    auth.login_as("physician")
    page = failed_alert_page(client, db, path)
    assert "alerts not configured" in page
    assert "Alert failed" not in page


@pytest.mark.parametrize("path", ["/review/", "/review/submissions/{id}"])
def test_with_mail_settings_a_failed_send_still_reads_alert_failed(
    app: Flask, client: FlaskClient, db: orm.Session, auth: Auth, path: str
) -> None:
    app.config.update(CONFIGURED)
    auth.login_as("physician")
    page = failed_alert_page(client, db, path)
    assert "Alert failed" in page
    assert "alerts not configured" not in page


@pytest.mark.parametrize(("role", "path"), [("staff", "/rules/"), ("admin", "/admin/users")])
def test_the_rules_and_admin_homes_show_the_setup_problem_only_while_unconfigured(
    app: Flask, client: FlaskClient, auth: Auth, role: str, path: str
) -> None:
    auth.login_as(role)
    page = html.unescape(client.get(path).get_data(as_text=True))
    assert SETUP_NOTICE in page
    assert "SCREENING_ALERT_RECIPIENTS" in page and "SCREENING_SMTP_HOST" in page
    app.config.update(CONFIGURED)
    assert SETUP_NOTICE not in client.get(path).get_data(as_text=True)


def test_the_setup_problem_asks_only_for_the_settings_missing() -> None:
    assert alerts.setup_problem(CONFIGURED) is None
    no_recipients = alerts.setup_problem({**CONFIGURED, "ALERT_RECIPIENTS": " , "})
    assert no_recipients is not None and "set SCREENING_ALERT_RECIPIENTS" in no_recipients
    assert "set SCREENING_SMTP_HOST" not in no_recipients
    assert "mail.clinic.example" in no_recipients  # where the e-mails would go, once someone receives them
    no_server = alerts.setup_problem({**CONFIGURED, "SMTP_HOST": ""})
    assert no_server is not None and "set SCREENING_SMTP_HOST" in no_server
    assert "SCREENING_ALERT_RECIPIENTS" not in no_server
