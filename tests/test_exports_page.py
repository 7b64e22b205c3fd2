"""The admins' exports page: the quality CSV and its data dictionary downloaded, audited, bad days explained."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from flask import Flask

from screening.db import new_session
from screening.exports import quality_csv

from .accounts import Auth
from .patient import page
from .test_auth import audit_rows
from .test_review_service import add_submission

DAY = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_the_admin_pages_link_to_the_exports_page(auth: Auth) -> None:
    auth.login_as("admin")
    for path in ("/admin/users", "/admin/audit"):
        assert 'href="/admin/exports"' in auth.client.get(path).get_data(as_text=True), path
    html = auth.client.get("/admin/exports").get_data(as_text=True)
    assert '<a href="/admin/exports" aria-current="page">Exports</a>' in html
    assert 'href="/admin/users"' in html and 'href="/admin/exports/dictionary.csv"' in html


def test_the_quality_csv_is_an_audited_attachment_of_the_days_asked(app: Flask, auth: Auth) -> None:
    with new_session(app) as session:
        for days in (-1, 0, 1):
            add_submission(session, "candidate", submitted_at=DAY + timedelta(days=days))
        session.commit()
    admin = auth.login_as("admin")
    response = auth.post("/admin/exports/quality.csv", {"from": "2026-03-10", "to": "2026-03-11"})
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = 'attachment; filename="quality-2026-03-10-to-2026-03-11.csv"'
    assert response.headers["Content-Disposition"] == disposition
    header, *rows = csv.reader(io.StringIO(response.get_data(as_text=True)))
    assert header == list(quality_csv.HEADER)
    assert [row[1] for row in rows] == ["2026-03-10", "2026-03-11"]
    (exported,) = audit_rows(app, "quality_csv.exported")
    assert exported.actor == f"user:{admin.id}"
    assert exported.details == {"from": "2026-03-10", "to": "2026-03-11", "rows": 2}


def test_the_dictionary_download_is_audited(app: Flask, auth: Auth) -> None:
    admin = auth.login_as("admin")
    response = auth.client.get("/admin/exports/dictionary.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="quality-data-dictionary.csv"'
    text = response.get_data(as_text=True)
    assert text.startswith("Variable / Field Name,") and "candidate, " in text  # outcomes of the active rule set
    (event,) = audit_rows(app, "data_dictionary.exported")
    assert event.actor == f"user:{admin.id}" and event.details == {"columns": len(quality_csv.COLUMNS)}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"from": "", "to": "2026-03-11"}, "from", "Enter a date as YYYY-MM-DD"),
        ({"from": "2026-02-30", "to": "2026-03-11"}, "from", "Enter a date as YYYY-MM-DD"),
        ({"from": "2026-03-10", "to": "tomorrow"}, "to", "Enter a date as YYYY-MM-DD"),
        ({"from": "2026-03-12", "to": "2026-03-11"}, "to", "The end date is before the start date."),
    ],
)
def test_a_bad_day_is_a_422_page_naming_the_field(
    app: Flask, auth: Auth, fields: dict[str, str], field: str, message: str
) -> None:
    auth.login_as("admin")
    response = auth.post("/admin/exports/quality.csv", fields)
    assert response.status_code == 422 and response.mimetype == "text/html"
    shown = page(response)
    assert message in shown.field_errors()[field]
    label = {"from": "From (UTC)", "to": "To (UTC)"}[field]
    assert [(href, text.partition(":")[0]) for href, text in shown.summary_links] == [(f"#{field}", label)]
    assert audit_rows(app, "quality_csv.exported") == []


def test_the_export_needs_the_forms_csrf_token(app: Flask, auth: Auth) -> None:
    auth.login_as("admin")
    response = auth.client.post("/admin/exports/quality.csv", data={"from": "2026-03-10", "to": "2026-03-11"})
    assert response.status_code == 400 and audit_rows(app, "quality_csv.exported") == []


@pytest.mark.parametrize("role", ["physician", "staff"])
@pytest.mark.parametrize("path", ["/admin/exports", "/admin/exports/dictionary.csv"])
def test_other_roles_get_403_and_nothing_is_exported(app: Flask, auth: Auth, role: str, path: str) -> None:
    auth.login_as(role)
    assert auth.client.get(path).status_code == 403
    assert auth.post("/admin/exports/quality.csv", {"from": "2026-03-10", "to": "2026-03-11"}).status_code == 403
    assert audit_rows(app, "quality_csv.exported") == audit_rows(app, "data_dictionary.exported") == []
