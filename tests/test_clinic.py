"""The clinic, named: its settings checked at start, and shown in the header, the footer and where pages say to call."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import clinic
from screening import config
from screening.clinic import Clinic
from screening.clinic import Phone
from screening.clinic import clinic_from_config
from .conftest import CLINIC
from .conftest import CONTACT_KEY
from .conftest import PRODUCTION_SECRET
from .conftest import app_on
from .patient import FOOTER_NOTICE
from .patient import Patient
from .test_factory import bare_app
from .test_operator_errors import free_port
from .test_patient_status import submit
from .test_patient_status import submit_and_confirm

ROOT = Path(__file__).resolve().parent.parent

#: The test clinic's number as a tel: link dials it and as the page shows it.
TEL = '<a href="tel:+12125550123">(212) 555-0123</a>'
#: Every clinic setting unset.
NO_CLINIC = {key: None for key in clinic.SETTINGS}


def footer(html: str) -> str:
    """Return the page's footer."""
    return html[html.index('<footer class="site-footer">') :]


def header(html: str) -> str:
    """Return the page's header."""
    return html[html.index('<header class="site-header">') : html.index("</header>")]


def links(html: str, scheme: str) -> list[str]:
    """Return the targets of the page's links of ``scheme`` ("tel", "mailto")."""
    return re.findall(rf'href="{scheme}:([^"]*)"', html)


# --- The settings ---------------------------------------------------------------------------------------------


def test_the_clinic_is_read_from_its_settings() -> None:
    assert clinic_from_config(CLINIC) == Clinic(
        name="Harbor Ketamine Clinic",
        phone=Phone(e164="+12125550123", display="(212) 555-0123"),
        email="care@clinic.example",
        address=("12 Harbor Street", "Suite 4", "New York, NY 10001"),
        hours=("Monday to Friday, 9 am to 5 pm",),
        website="https://clinic.example/",
    )


def test_nothing_set_is_a_clinic_with_nothing_to_show() -> None:
    nameless = clinic_from_config(NO_CLINIC)
    assert nameless == Clinic()
    assert not nameless.shown and not nameless.reachable
    assert clinic_from_config({"CLINIC_NAME": "  ", "CLINIC_ADDRESS": "\n \n"}) == Clinic()  # blank is unset


@pytest.mark.parametrize(
    ("written", "e164", "display"),
    [
        ("(212) 555-0123", "+12125550123", "(212) 555-0123"),
        ("212.555.0123", "+12125550123", "(212) 555-0123"),
        (2125550123, "+12125550123", "(212) 555-0123"),  # digits only arrive from the environment as a number
        ("+1 617 555 0142", "+16175550142", "(617) 555-0142"),
        ("+44 20 7946 0958", "+442079460958", "+44 20 7946 0958"),  # another country's: international format
    ],
)
def test_a_phone_number_is_dialled_in_e164_and_shown_in_national_format(
    written: str | int, e164: str, display: str
) -> None:
    assert clinic_from_config({"CLINIC_PHONE": written}).phone == Phone(e164=e164, display=display)


def test_address_and_hours_take_lines_or_a_list_of_lines() -> None:
    listed = clinic_from_config({"CLINIC_ADDRESS": ["1 Main St", " ", "Albany, NY"], "CLINIC_HOURS": "Mon\nTue"})
    assert listed.address == ("1 Main St", "Albany, NY")
    assert listed.hours == ("Mon", "Tue")


def test_the_website_is_shown_without_its_scheme() -> None:
    assert clinic_from_config({"CLINIC_WEBSITE": "https://clinic.example/"}).website_label == "clinic.example"
    assert clinic_from_config({"CLINIC_WEBSITE": "http://clinic.example/care/"}).website_label == "clinic.example/care"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CLINIC_PHONE", "555-1234", "SCREENING_CLINIC_PHONE '555-1234' is not a valid phone number"),
        ("CLINIC_PHONE", "call us", "SCREENING_CLINIC_PHONE 'call us' is not a valid phone number"),
        ("CLINIC_PHONE", "+1 212 555", "SCREENING_CLINIC_PHONE '+1 212 555' is not a valid phone number"),
        ("CLINIC_EMAIL", "care@clinic", "SCREENING_CLINIC_EMAIL 'care@clinic' is not a valid e-mail address"),
        ("CLINIC_EMAIL", "clinic.example", "SCREENING_CLINIC_EMAIL 'clinic.example' is not a valid e-mail address"),
        ("CLINIC_WEBSITE", "clinic.example", "SCREENING_CLINIC_WEBSITE 'clinic.example' is not a website address"),
        ("CLINIC_WEBSITE", "ftp://clinic.example", "SCREENING_CLINIC_WEBSITE 'ftp://clinic.example' is not a"),
        ("CLINIC_WEBSITE", "javascript:alert(1)", "SCREENING_CLINIC_WEBSITE 'javascript:alert(1)' is not a"),
        ("CLINIC_WEBSITE", "https://", "SCREENING_CLINIC_WEBSITE 'https://' is not a website address"),
        ("CLINIC_NAME", "Harbor\nClinic", "SCREENING_CLINIC_NAME must be one line of text"),
        ("CLINIC_NAME", ["Harbor"], "SCREENING_CLINIC_NAME must be text"),
        ("CLINIC_HOURS", {"mon": "9-5"}, "SCREENING_CLINIC_HOURS must be text or a list of lines"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_the_setting(
    tmp_path: Path, setting: str, value: object, message: str
) -> None:
    with pytest.raises(config.ConfigError) as refused:
        config.load(bare_app(tmp_path), {"SECRET_KEY": "k", setting: value})
    assert str(refused.value).startswith(message)
    assert len(str(refused.value).splitlines()) == 1


@pytest.mark.parametrize("setting", ["CLINIC_PHONE", "CLINIC_STAFF_SUPPORT_PHONE", "CLINIC_EMAIL", "CLINIC_WEBSITE"])
def test_a_huge_bad_value_is_quoted_shortened(tmp_path: Path, setting: str) -> None:
    with pytest.raises(config.ConfigError) as refused:
        config.load(bare_app(tmp_path), {"SECRET_KEY": "k", setting: "9" * 5000})
    message = str(refused.value)
    assert message.startswith(f"SCREENING_{setting} '{'9' * 40}…' is not a"), message[:100]
    assert len(message) < 200
    assert len(message.splitlines()) == 1


def test_the_settings_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_CLINIC_NAME", "Harbor Ketamine Clinic")
    monkeypatch.setenv("SCREENING_CLINIC_PHONE", "2125550123")
    monkeypatch.setenv("SCREENING_CLINIC_ADDRESS", '["12 Harbor Street", "New York, NY 10001"]')
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k"})
    named = clinic.clinic_of(app)
    assert (named.name, named.phone, named.address) == (
        "Harbor Ketamine Clinic",
        Phone(e164="+12125550123", display="(212) 555-0123"),
        ("12 Harbor Street", "New York, NY 10001"),
    )


# --- Production needs the name and the phone number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "SCREENING_CLINIC_NAME and SCREENING_CLINIC_PHONE are not set."),
        ({"CLINIC_NAME": "Harbor Ketamine Clinic"}, "SCREENING_CLINIC_PHONE is not set."),
        ({"CLINIC_PHONE": "+1 212 555 0123", "CLINIC_EMAIL": "care@clinic.example"}, "SCREENING_CLINIC_NAME is not"),
    ],
)
def test_production_refuses_a_clinic_without_name_or_phone(tmp_path: Path, given: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError) as refused:
        config.load(bare_app(tmp_path), {"ENVIRONMENT": "production", "SECRET_KEY": PRODUCTION_SECRET, **given})
    assert str(refused.value).startswith(message)
    assert "before running in production" in str(refused.value)


def test_production_starts_with_name_and_phone_only(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    given = {"CLINIC_NAME": "Harbor Ketamine Clinic", "CLINIC_PHONE": "+1 212 555 0123", "CONTACT_KEYS": CONTACT_KEY}
    config.load(app, {"ENVIRONMENT": "production", "SECRET_KEY": PRODUCTION_SECRET, **given})
    assert clinic.clinic_of(app).name == "Harbor Ketamine Clinic"


def test_development_starts_without_the_clinic(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k"})
    assert clinic.clinic_of(app) == Clinic()


def _server_environment(tmp_path: Path) -> dict[str, str]:
    """Return a production environment with a good secret and no clinic settings."""
    env = {
        **os.environ,
        "SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        "SCREENING_ENVIRONMENT": "production",
    }
    for key in clinic.SETTINGS:
        env.pop(f"SCREENING_{key}", None)
    return env


def test_a_command_in_production_without_the_clinic_is_one_line(tmp_path: Path) -> None:
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "screening", "users", "list"],
        env=_server_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: SCREENING_CLINIC_NAME and SCREENING_CLINIC_PHONE are not set."), (
        result.stderr
    )
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gunicorn_refuses_to_start_without_the_clinic(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{free_port()}", "wsgi:app"]
    env = _server_environment(tmp_path)
    env.pop("SCREENING_ENVIRONMENT")  # wsgi.py's own default
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stderr
    assert "Error: SCREENING_CLINIC_NAME and SCREENING_CLINIC_PHONE are not set." in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


# --- The pages ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/intake/age", "/intake/about", "/login", "/status/unknown", "/no-such-page"])
def test_every_page_names_the_clinic_and_gives_its_details_in_the_footer(patient: Patient, path: str) -> None:
    patient.answer_all(until="about")
    response = patient.get(path)
    assert response.status_code in {200, 404}, response.status_code
    html = response.get_data(as_text=True)
    assert "Harbor Ketamine Clinic" in header(html)
    assert "– Harbor Ketamine Clinic intake</title>" in html
    bottom = footer(html)
    assert FOOTER_NOTICE in bottom and 'href="tel:988"' in bottom  # the crisis line first, as before
    assert bottom.index('href="tel:988"') < bottom.index('<address class="clinic-details">')
    assert "<strong>Harbor Ketamine Clinic</strong>" in bottom
    assert TEL in bottom
    assert '<a href="mailto:care@clinic.example">care@clinic.example</a>' in bottom
    assert "12 Harbor Street<br>Suite 4<br>New York, NY 10001" in bottom
    assert "Hours: Monday to Friday, 9 am to 5 pm" in bottom
    assert '<a href="https://clinic.example/">clinic.example</a>' in bottom


def test_the_confirmation_and_status_pages_say_how_to_reach_the_clinic(client: FlaskClient, patient: Patient) -> None:
    token, done = submit_and_confirm(patient)
    main = done[: done.index("<footer")]
    assert "quote it if you contact Harbor Ketamine Clinic." in main
    assert f"reach Harbor Ketamine Clinic by phone at {TEL} (Monday to Friday, 9 am to 5 pm)" in main
    assert 'by e-mail at <a href="mailto:care@clinic.example">' in main
    status = client.get(f"/status/{token}").get_data(as_text=True)
    main = status[: status.index("<footer")]
    assert "if you contact Harbor Ketamine Clinic." in main
    assert f"You can reach Harbor Ketamine Clinic by phone at {TEL}" in main


def test_the_crisis_resources_come_first_and_the_clinic_beside_them(client: FlaskClient, patient: Patient) -> None:
    support = patient.answer_all({"mood": {"phq9_9": "1"}}, until="anxiety")
    assert support.status_code == 302
    html = client.get(support.headers["Location"]).get_data(as_text=True)
    crisis = html[html.index('<section class="crisis"') : html.index("</section>")]
    assert crisis.index('href="tel:988"') < crisis.index(TEL)
    assert f"For anything that is not urgent, you can reach Harbor Ketamine Clinic by phone at {TEL}" in crisis


@pytest.fixture()
def nameless_app(database_urls: dict[str, str]) -> Iterator[Flask]:
    """Return a developer's app with no clinic setting."""
    with app_on(database_urls["sqlite"], ENVIRONMENT="development", **NO_CLINIC) as app:
        yield app


def test_without_the_settings_the_pages_read_well(nameless_app: Flask) -> None:
    client = nameless_app.test_client()
    patient = Patient(client)
    welcome = client.get("/").get_data(as_text=True)
    token, done = submit_and_confirm(patient, {"mood": {"phq9_9": "1"}})
    pages = {
        "welcome": welcome,
        "done": done,
        "status": client.get(f"/status/{token}").get_data(as_text=True),
        "login": client.get("/login").get_data(as_text=True),
    }
    for name, html in pages.items():
        assert "None" not in html, name
        assert set(links(html, "tel")) == {"988", "911"}, name
        assert links(html, "mailto") == [], name
        assert 'href=""' not in html and "clinic-details" not in html and "clinic-reach" not in html, name
        assert "Clinic eligibility intake" in header(html), name
        assert FOOTER_NOTICE in footer(html) and 'href="tel:988"' in footer(html), name
    assert "quote it if you contact the clinic." in pages["done"]
    assert 'id="crisis-heading"' in pages["done"] and 'id="crisis-heading"' in pages["status"]
    assert "if you contact the clinic." in pages["status"]


def test_a_clinic_with_an_e_mail_only_says_so(database_urls: dict[str, str]) -> None:
    given = {**NO_CLINIC, "CLINIC_EMAIL": "care@clinic.example"}
    with app_on(database_urls["sqlite"], ENVIRONMENT="development", **given) as app:
        client = app.test_client()
        token = submit(Patient(client))
        html = client.get(f"/status/{token}").get_data(as_text=True)
    assert 'You can reach the clinic by e-mail at <a href="mailto:care@clinic.example">' in html
    assert set(links(html, "tel")) == {"988", "911"}
    assert "<strong>" not in footer(html).split('<address class="clinic-details">')[1]  # no name to show
