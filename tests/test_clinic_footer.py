"""The footer of the clinic's own pages: the clinic's support line for its users, not the patients' crisis notice.

Patients' pages, the sign-in page (nobody is signed in there yet) and the error pages (anyone may reach them) keep
the crisis notice; the pages of a signed-in clinic user give the clinic's support line when one is set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.clinic import ClinicSettingError
from screening.clinic import Phone
from screening.clinic import clinic_from_config

from .accounts import Auth
from .accounts import Users
from .conftest import app_on
from .patient import FOOTER_NOTICE

#: The test clinic's support line, as a tel: link dials it and as the page shows it.
SUPPORT = "+1 212 555 0199"
SUPPORT_LINK = '<a href="tel:+12125550199">(212) 555-0199</a>'

#: A clinic page each role works on, the area and its sub-pages.
CLINIC_PAGES = [
    ("physician", "/review/"),
    ("physician", "/rules/"),
    ("staff", "/rules/"),
    ("staff", "/rules/diff"),
    ("admin", "/admin/users"),
    ("admin", "/admin/audit"),
    ("admin", "/admin/exports"),
]


def footer(html: str) -> str:
    """Return the page's footer, or "" when it has none."""
    start = html.find('<footer class="site-footer')
    return "" if start < 0 else html[start : html.index("</footer>", start)]


@pytest.fixture()
def supported_app(database_urls: dict[str, str]) -> Iterator[Flask]:
    """Return an app whose clinic has set its support line."""
    with app_on(database_urls["sqlite"], CLINIC_STAFF_SUPPORT_PHONE=SUPPORT) as app:
        yield app


def test_the_support_line_is_read_as_a_phone_number() -> None:
    clinic = clinic_from_config({"CLINIC_STAFF_SUPPORT_PHONE": "(212) 555-0199"})
    assert clinic.staff_support_phone == Phone(e164="+12125550199", display="(212) 555-0199")
    assert clinic_from_config({}).staff_support_phone is None


def test_a_bad_support_line_is_refused_naming_its_setting() -> None:
    with pytest.raises(ClinicSettingError) as refused:
        clinic_from_config({"CLINIC_STAFF_SUPPORT_PHONE": "call Sam"})
    assert str(refused.value).startswith("SCREENING_CLINIC_STAFF_SUPPORT_PHONE 'call Sam' is not a valid phone")


@pytest.mark.parametrize(("role", "path"), CLINIC_PAGES)
def test_clinic_pages_give_the_support_line_not_the_crisis_notice(supported_app: Flask, role: str, path: str) -> None:
    client = supported_app.test_client()
    Auth(client, Users(supported_app)).login_as(role)
    response = client.get(path)
    assert response.status_code == 200, (role, path)
    bottom = footer(response.get_data(as_text=True))
    assert FOOTER_NOTICE not in bottom and 'href="tel:988"' not in bottom, (role, path)
    assert f"Support line for clinic staff: {SUPPORT_LINK}" in bottom, (role, path)


@pytest.mark.parametrize(("role", "path"), CLINIC_PAGES[::2])
def test_without_a_support_line_clinic_pages_have_no_footer(
    client: FlaskClient, auth: Auth, role: str, path: str
) -> None:
    auth.login_as(role)
    html = client.get(path).get_data(as_text=True)
    assert footer(html) == "" and FOOTER_NOTICE not in html and 'href="tel:988"' not in html, (role, path)


@pytest.mark.parametrize("path", ["/", "/status/unknown", "/review/no-such-page", "/admin/users"])
def test_patient_and_error_pages_keep_the_crisis_notice_for_a_signed_in_user(supported_app: Flask, path: str) -> None:
    client = supported_app.test_client()
    Auth(client, Users(supported_app)).login_as("physician")  # /admin/users is refused to a physician: an error page
    response = client.get(path)
    assert response.status_code in {200, 403, 404}, path
    bottom = footer(response.get_data(as_text=True))
    assert FOOTER_NOTICE in bottom and 'href="tel:988"' in bottom, path
    assert "Support line for clinic staff" not in bottom, path


def test_the_sign_in_page_keeps_the_crisis_notice(supported_app: Flask) -> None:
    bottom = footer(supported_app.test_client().get("/login").get_data(as_text=True))
    assert FOOTER_NOTICE in bottom and 'href="tel:988"' in bottom
    assert "Support line for clinic staff" not in bottom
