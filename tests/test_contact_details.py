"""Contact details kept safe: validated, encrypted at rest, shown only when audited, rotated and purged."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from screening import config
from screening.contacts import crypto
from screening.contacts import service as contacts
from screening.contacts.details import ContactDetails
from screening.contacts.details import ContactInvalid
from screening.contacts.details import parse_contact
from screening.db import new_session
from screening.models import AuditEvent
from screening.models import BacktestChange
from screening.models import BacktestRun
from screening.models import ReviewAction
from screening.models import Submission
from screening.models import SubmissionContact
from screening.models import User

from .accounts import Auth
from .conftest import PRODUCTION_SECRET
from .patient import CONTACT_DETAILS
from .patient import Patient
from .patient import rows
from .ruleset_files import copy_rules
from .test_auth import login_redirect

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EMAIL = "jordan.rivers@example.org"
PHONE = "+12125550187"


def details(**changes: object) -> ContactDetails:
    """Return contact details a patient could give, with ``changes``."""
    given: dict[str, object] = {
        "preferred_name": "Jordan",
        "email": EMAIL,
        "phone": "(212) 555-0187",
        "preferred_method": "either",
        "preferred_time": "morning",
        "state": "ny",
        "consent": True,
        "consent_version": "contact-2026.12-1",
        **changes,
    }
    return parse_contact(**given)  # type: ignore[arg-type]


def a_submission(
    app: Flask,
    *,
    status: str = "open",
    reference: str = "K7M4-QX9P",
    submitted_at: datetime = NOW,
    needs_action: bool = True,
) -> int:
    """Store a bare submission and return its id."""
    with new_session(app) as session:
        submission = Submission(
            reference=reference,
            submitted_at=submitted_at,
            needs_action=needs_action,
            form_version="intake-2026.12-1",
            answers={},
            scores={},
            safety_flag=False,
            status=status,
        )
        session.add(submission)
        session.commit()
        return submission.id


def a_physician(app: Flask) -> User:
    """Store a physician and return it."""
    with new_session(app) as session:
        user = User(email="doctor@clinic.example", password_hash="x", role="physician", created_at=NOW)
        session.add(user)
        session.commit()
        session.expunge(user)
        return user


# --- The details themselves -------------------------------------------------------------------------------------


def test_details_are_normalized_and_survive_json() -> None:
    given = details()
    assert (given.email, given.phone, given.state) == (EMAIL, PHONE, "NY")
    assert ContactDetails.from_json(given.to_json()) == given


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "jordan@"}, "email"),
        ({"phone": "555-01"}, "phone"),
        ({"phone": "+1 212 555 018"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"state": "XX"}, "state"),
        ({"preferred_method": "pigeon"}, "preferred_method"),
        ({"preferred_time": "midnight"}, "preferred_time"),
        ({"consent": False}, "consent"),
        ({"email": None, "phone": None}, "email"),
        ({"preferred_method": "phone", "phone": None}, "phone"),
        ({"preferred_method": "email", "email": None}, "email"),
    ],
)
def test_bad_details_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ContactInvalid) as refused:
        details(**changes)
    assert refused.value.field == field


# --- Keys -------------------------------------------------------------------------------------------------------


def bare_app(tmp_path: Path) -> Flask:
    """Return a Flask app whose instance folder is ``tmp_path``, before any settings are loaded."""
    return Flask("screening", instance_path=str(tmp_path), instance_relative_config=True)


def test_development_generates_a_private_key_in_the_instance_folder(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k"})
    path = tmp_path / crypto.KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert app.config[crypto.KEYS] == (path.read_text().strip(),)
    again = bare_app(tmp_path)
    config.load(again, {"SECRET_KEY": "k"})
    assert again.config[crypto.KEYS] == app.config[crypto.KEYS]


def test_production_refuses_to_start_without_keys(tmp_path: Path) -> None:
    clinic = {"CLINIC_NAME": "Harbor Ketamine Clinic", "CLINIC_PHONE": "+1 212 555 0123"}
    with pytest.raises(config.ConfigError) as refused:
        config.load(bare_app(tmp_path), {"ENVIRONMENT": "production", "SECRET_KEY": PRODUCTION_SECRET, **clinic})
    assert str(refused.value).startswith("SCREENING_CONTACT_KEYS is not set.")
    assert not (tmp_path / crypto.KEY_FILE).exists()


@pytest.mark.parametrize(
    "value",
    ["not-a-key", ",", f"{Fernet.generate_key().decode()},short"],
    ids=["not-a-key", "empty", "good-then-short"],
)
def test_a_bad_key_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    with pytest.raises(config.ConfigError) as refused:
        config.load(bare_app(tmp_path), {"SECRET_KEY": "k", crypto.KEYS: value})
    assert "SCREENING_CONTACT_KEYS" in str(refused.value) and len(str(refused.value).splitlines()) == 1


def test_keys_are_comma_separated_newest_first(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = bare_app(tmp_path)
    config.load(app, {"SECRET_KEY": "k", crypto.KEYS: f" {new} , {old} "})
    assert app.config[crypto.KEYS] == (new, old)
    sealed = crypto.seal(app.config, "hello")
    assert Fernet(new.encode()).decrypt(sealed.encode()) == b"hello"


# --- Stored encrypted, read with an audit event -------------------------------------------------------------------


def test_store_and_read_writes_one_audit_event_without_details(app: Flask) -> None:
    submission_id = a_submission(app)
    doctor = a_physician(app)
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
    with new_session(app) as session:
        row = session.scalar(sa.select(SubmissionContact))
        assert row is not None and EMAIL not in row.ciphertext and row.key_id == crypto.current_key_id(app.config)
        read = contacts.read_contact(session, app.config, submission_id, viewer=doctor, now=NOW)
        session.commit()
        assert read == details()
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "contact.viewed")).all()
    assert [(e.actor, e.subject_id, e.details) for e in events] == [
        (f"user:{doctor.id}", submission_id, {"reference": "K7M4-QX9P"})
    ]


def test_reading_a_submission_without_details_is_audited_too(app: Flask) -> None:
    submission_id = a_submission(app)
    doctor = a_physician(app)
    with new_session(app) as session:
        assert contacts.read_contact(session, app.config, submission_id, viewer=doctor, now=NOW) is None
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1


def test_consented_email_is_the_address_only_with_consent_and_is_not_audited(app: Flask) -> None:
    with_email, phone_only, none_given = (
        a_submission(app),
        a_submission(app, reference="A"),
        a_submission(app, reference="B"),
    )
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, with_email), details())
        contacts.store_contact(
            session, app.config, session.get(Submission, phone_only), details(email=None, preferred_method="phone")
        )
        session.commit()
        assert contacts.consented_email(session, app.config, with_email) == EMAIL
        assert contacts.consented_email(session, app.config, phone_only) is None
        assert contacts.consented_email(session, app.config, none_given) is None
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


# --- Rotation ---------------------------------------------------------------------------------------------------


def test_rotation_reencrypts_with_the_newest_key_so_the_old_one_can_go(app: Flask) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    submission_id = a_submission(app)
    app.config[crypto.KEYS] = (old,)
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
    app.config[crypto.KEYS] = (new, old)
    with new_session(app) as session:
        assert contacts.consented_email(session, app.config, submission_id) == EMAIL  # the old key still decrypts
        assert contacts.rotate_keys(session, app.config) == 1
        session.commit()
        assert contacts.rotate_keys(session, app.config) == 0  # nothing left under an older key
    app.config[crypto.KEYS] = (new,)
    with new_session(app) as session:
        assert contacts.consented_email(session, app.config, submission_id) == EMAIL
    app.config[crypto.KEYS] = (old,)
    with new_session(app) as session, pytest.raises(crypto.ContactKeyError):
        contacts.consented_email(session, app.config, submission_id)


# --- Retention --------------------------------------------------------------------------------------------------


def decided(app: Flask, submission_id: int, doctor: User, at: datetime) -> None:
    """Record a decision on a submission at ``at``."""
    with new_session(app) as session:
        session.add(
            ReviewAction(submission_id=submission_id, actor_id=doctor.id, at=at, action="decide", decision="consult")
        )
        session.commit()


def test_purge_deletes_details_of_submissions_closed_longer_than_the_retention(app: Flask) -> None:
    doctor = a_physician(app)
    old = a_submission(app, status="decided", reference="OLD")
    recent = a_submission(app, status="decided", reference="NEW")
    still_open = a_submission(app, status="open", reference="OPEN")
    decided(app, old, doctor, NOW - timedelta(days=91))
    decided(app, recent, doctor, NOW - timedelta(days=89))
    with new_session(app) as session:
        for submission_id in (old, recent, still_open):
            contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
        assert contacts.purge_closed(session, app.config, NOW) == 1
        session.commit()
        left = set(session.scalars(sa.select(SubmissionContact.submission_id)))
        event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "contact.purged"))
    assert left == {recent, still_open}
    assert event is not None and event.details == {"count": 1, "retention_days": 90}


def test_purge_deletes_details_of_submissions_that_never_needed_a_physician_after_the_retention(app: Flask) -> None:
    def no_action(reference: str, days_ago: int, status: str = "open") -> int:
        at = NOW - timedelta(days=days_ago)
        return a_submission(app, reference=reference, submitted_at=at, needs_action=False, status=status)

    old, recent = no_action("OLD", 91), no_action("NEW", 89)
    claimed = no_action("TAKEN", 91, status="claimed")  # a physician is working on it after all: kept
    waiting = a_submission(app, reference="WAIT", submitted_at=NOW - timedelta(days=91))  # needs a physician: kept
    with new_session(app) as session:
        for submission_id in (old, recent, claimed, waiting):
            contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
        assert contacts.purge_closed(session, app.config, NOW) == 1
        session.commit()
        assert set(session.scalars(sa.select(SubmissionContact.submission_id))) == {recent, claimed, waiting}


def test_the_retention_is_a_setting(app: Flask) -> None:
    doctor = a_physician(app)
    submission_id = a_submission(app, status="decided")
    decided(app, submission_id, doctor, NOW - timedelta(days=11))
    app.config["CONTACT_RETENTION_DAYS"] = 10
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        assert contacts.purge_closed(session, app.config, NOW) == 1


# --- The commands -----------------------------------------------------------------------------------------------


def test_rotate_key_command_prints_the_count(app: Flask) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    submission_id = a_submission(app)
    app.config[crypto.KEYS] = (old,)
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
    app.config[crypto.KEYS] = (new, old)
    result = app.test_cli_runner().invoke(args=["contacts", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Encrypted 1 contact record(s) again with the newest key")


def test_rotate_key_without_the_old_key_is_one_line(app: Flask) -> None:
    submission_id = a_submission(app)
    app.config[crypto.KEYS] = (Fernet.generate_key().decode(),)
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
    app.config[crypto.KEYS] = (Fernet.generate_key().decode(),)
    result = app.test_cli_runner().invoke(args=["contacts", "rotate-key"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Stored contact details cannot be decrypted with any key")
    assert "Traceback" not in result.output and EMAIL not in result.output


def test_purge_command_prints_the_count_and_audits(app: Flask) -> None:
    doctor = a_physician(app)
    submission_id = a_submission(app, status="decided")
    decided(app, submission_id, doctor, datetime.now(UTC) - timedelta(days=5))
    with new_session(app) as session:
        contacts.store_contact(session, app.config, session.get(Submission, submission_id), details())
        session.commit()
    kept = app.test_cli_runner().invoke(args=["contacts", "purge"])
    assert kept.output == "Deleted the contact details of 0 closed submission(s) (90 days).\n"
    purged = app.test_cli_runner().invoke(args=["contacts", "purge", "--days", "3"])
    assert (
        purged.exit_code == 0 and purged.output == "Deleted the contact details of 1 closed submission(s) (3 days).\n"
    )
    with new_session(app) as session:
        counts = [e.details["count"] for e in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]
    assert counts == [0, 1]


@pytest.mark.parametrize("days", ["0", "many", "-4"])
def test_purge_with_bad_days_is_a_clear_message(app: Flask, days: str) -> None:
    result = app.test_cli_runner().invoke(args=["contacts", "purge", "--days", days])
    assert result.exit_code == 2 and "Invalid value for '--days'" in result.output
    assert "Traceback" not in result.output


def test_purge_with_a_bad_setting_is_one_line(app: Flask) -> None:
    app.config["CONTACT_RETENTION_DAYS"] = "soon"
    result = app.test_cli_runner().invoke(args=["contacts", "purge"])
    assert result.exit_code == 1
    assert result.output == "Error: SCREENING_CONTACT_RETENTION_DAYS must be a whole number of days, not 'soon'\n"


# --- End to end: a real submission with details, and where the details never go -------------------------------

#: What the patient types, and what is stored: none of it may show outside the encrypted table and the panel.
TYPED = ("jordan.rivers@example.org", "212) 555-0187", "2125550187", "Jordan")


def submitted_with_details(app: Flask, **overrides: dict[str, str]) -> tuple[Patient, int, str]:
    """Walk the wizard in a new browser giving contact details; return the patient, submission id and reference."""
    patient = Patient(app.test_client())
    patient.answer_all({"contact": CONTACT_DETAILS, **overrides})
    assert patient.submit().headers["Location"] == "/intake/done"
    patient.get("/intake/done")
    (submission,) = rows(app, Submission)
    return patient, submission.id, submission.reference


def leaks(text: str) -> list[str]:
    """Return what of the typed contact details ``text`` holds."""
    return [typed for typed in TYPED if typed.lower() in text.lower()]


def test_the_raw_database_file_never_holds_the_details(app: Flask) -> None:
    url = sa.engine.make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("the raw file is SQLite's")
    submitted_with_details(app)
    (row,) = rows(app, SubmissionContact)
    path = Path(url.database or "")
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-journal")]
    raw = b"".join(file.read_bytes() for file in files if file.exists())
    assert b"submission_contact" in raw and b"sertraline" in raw  # the grep sees the stored rows: answers in clear
    for typed in (*TYPED, PHONE):
        assert typed.encode() not in raw, typed
        assert typed.encode("utf-16-le") not in raw, typed
    with new_session(app) as session:
        assert contacts.consented_email(session, app.config, row.submission_id) == EMAIL


def test_the_session_cookie_never_holds_the_details(app: Flask) -> None:
    patient = Patient(app.test_client())
    patient.answer_all(until="contact")
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    seen = []
    for step in (
        lambda: patient.post("/intake/contact", {**CONTACT_DETAILS, "email": "bad@@x"}),  # refused, kept to redo
        lambda: patient.post("/intake/contact", CONTACT_DETAILS),
        lambda: patient.get("/intake/review"),
        patient.submit,
        lambda: patient.get("/intake/done"),
    ):
        step()
        cookie = patient.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        assert cookie is not None
        seen.append(json.dumps(serializer.loads(cookie.value)) + cookie.value)
    for value in seen:
        assert leaks(value) == [] and PHONE not in value


def test_audit_rows_logs_the_screen_command_and_a_dry_run_never_hold_the_details(
    app: Flask, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    _, submission_id, reference = submitted_with_details(app)
    with new_session(app) as session:
        events = session.scalars(sa.select(AuditEvent)).all()
        answers = session.get_one(Submission, submission_id).answers
    assert any(event.action == "submission.created" for event in events)
    for event in events:
        assert leaks(json.dumps(event.details)) == [], event.action
    assert leaks(caplog.text) == [] and PHONE not in caplog.text
    runner = app.test_cli_runner()
    document = tmp_path / "answers.json"
    document.write_text(json.dumps(answers))
    screened = runner.invoke(args=["screen", str(document)])
    assert screened.exit_code == 0, screened.output
    assert leaks(screened.output) == [] and PHONE not in screened.output
    app.config["BACKTEST_PROCESSES"] = 1
    backtest = runner.invoke(args=["rules", "backtest", str(copy_rules(tmp_path))])
    assert backtest.exit_code == 0, backtest.output
    assert "Submissions: 1" in backtest.output
    assert leaks(backtest.output) == [] and PHONE not in backtest.output
    with new_session(app) as session:
        run = session.scalars(sa.select(BacktestRun)).one()
        changes = session.scalars(sa.select(BacktestChange.change).where(BacktestChange.run_id == run.id)).all()
        stored_run = json.dumps({"result": run.result, "changes": changes, "error": run.error}, default=str)
    assert leaks(stored_run) == [] and PHONE not in stored_run


# --- The contact panel ---------------------------------------------------------------------------------------


def test_a_physician_sees_the_panel_and_the_view_is_audited(app: Flask, auth: Auth, client: FlaskClient) -> None:
    _, submission_id, reference = submitted_with_details(app)
    doctor = auth.login_as("physician")
    html = client.get(f"/review/submissions/{submission_id}").get_data(as_text=True)
    panel = html[html.index('aria-labelledby="contact-heading"') :]
    panel = panel[: panel.index("</section>")]
    assert '<a href="mailto:jordan.rivers@example.org">jordan.rivers@example.org</a>' in panel
    assert '<a href="tel:+12125550187">(212) 555-0187</a>' in panel
    for shown in ("Jordan", "Either", "Morning", "NY (in the service area)", "contact-2026.12-1"):
        assert shown in panel, shown
    # The panel follows the actions for a case that is not urgent.
    assert html.index('id="actions-heading"') < html.index('id="contact-heading"')
    with new_session(app) as session:
        (viewed,) = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "contact.viewed")).all()
    assert (viewed.actor, viewed.subject_type, viewed.subject_id) == (f"user:{doctor.id}", "submission", submission_id)
    assert viewed.details == {"reference": reference}


def test_an_admin_reads_the_panel_on_their_own_page_audited(app: Flask, auth: Auth, client: FlaskClient) -> None:
    _, submission_id, reference = submitted_with_details(app)
    admin = auth.login_as("admin")
    response = client.get(f"/admin/submissions/{submission_id}/contact")
    assert response.status_code == 200
    assert 'href="tel:+12125550187"' in response.get_data(as_text=True)
    assert client.get("/admin/submissions/999999/contact").status_code == 404
    with new_session(app) as session:
        (viewed,) = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "contact.viewed")).all()
    assert (viewed.actor, viewed.details) == (f"user:{admin.id}", {"reference": reference})


@pytest.mark.parametrize("path", ["/review/submissions/{id}", "/admin/submissions/{id}/contact"])
def test_staff_are_refused_and_visitors_sent_to_sign_in(app: Flask, auth: Auth, client: FlaskClient, path: str) -> None:
    _, submission_id, _ = submitted_with_details(app)
    address = path.format(id=submission_id)
    login_redirect(client.get(address), address)
    auth.login_as("staff")
    refused = client.get(address)
    assert refused.status_code == 403
    assert leaks(refused.get_data(as_text=True)) == []
    with new_session(app) as session:
        assert session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "contact.viewed")).all() == []


def test_a_declined_contact_says_no_details_were_given(app: Flask, auth: Auth, client: FlaskClient) -> None:
    patient = Patient(app.test_client())
    patient.answer_all()  # declines
    patient.submit()
    (submission,) = rows(app, Submission)
    auth.login_as("physician")
    html = client.get(f"/review/submissions/{submission.id}").get_data(as_text=True)
    assert "No contact details given" in html and "mailto:" not in html.split('id="contact-heading"')[1][:2000]


def test_a_safety_case_puts_the_callback_details_first_outside_the_service_area(
    app: Flask, auth: Auth, client: FlaskClient
) -> None:
    app.config["SERVICE_STATES"] = "NJ,CT"
    _, submission_id, _ = submitted_with_details(app, mood={"phq9_9": "2"})
    auth.login_as("physician")
    html = client.get(f"/review/submissions/{submission_id}").get_data(as_text=True)
    assert "badge-safety" in html
    first = html.index('id="contact-heading"')
    assert first < html.index('class="summary"') < html.index('id="actions-heading"')
    assert "Callback details" in html[first : first + 200]
    assert "NY (<strong>outside the service area</strong>)" in html
    assert html.count('id="contact-heading"') == 1


def test_details_no_key_decrypts_show_a_notice_not_a_500(app: Flask, auth: Auth, client: FlaskClient) -> None:
    _, submission_id, _ = submitted_with_details(app)
    app.config[crypto.KEYS] = (Fernet.generate_key().decode(),)
    auth.login_as("physician")
    response = client.get(f"/review/submissions/{submission_id}")
    assert response.status_code == 200
    assert "cannot be decrypted with the keys set" in response.get_data(as_text=True)
