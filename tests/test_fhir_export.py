"""Downloading one submission's FHIR Bundle (physicians and admins, audited) and ``flask export fhir``."""

from __future__ import annotations

import json
import random
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskCliRunner
from flask.testing import FlaskClient

from screening.contacts import service as contacts
from screening.contacts.details import ContactDetails
from screening.db import new_session
from screening.fake import answers_document
from screening.fhir.response import answers_document as read_back
from screening.instruments.scoring import score_answers
from screening.models import AuditEvent
from screening.models import Submission

from .accounts import Auth
from .test_contact_details import EMAIL
from .test_contact_details import details
from .test_review_service import NOW
from .test_review_service import add_submission


def add_answered(app: Flask, count: int, *, start: datetime = NOW, consent: bool | None = None) -> list[int]:
    """Add ``count`` submissions of fake answers an hour apart from ``start``; with contact details if asked."""
    rng, ids = random.Random(5), []
    with new_session(app) as session:
        for index in range(count):
            submission = add_submission(session, "candidate", submitted_at=start + timedelta(hours=index))
            submission.answers = answers_document(rng)
            submission.scores = score_answers(submission.answers).as_dict()
            if consent is not None:
                given = details() if consent else ContactDetails(None, EMAIL, None, "email", "any", None, False, "v")
                contacts.store_contact(session, app.config, submission, given)
            ids.append(submission.id)
        session.commit()
    return ids


def events(app: Flask, action: str) -> list[AuditEvent]:
    with new_session(app) as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_a_physician_downloads_the_bundle_and_the_download_is_audited(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    (submission_id,) = add_answered(app, 1)
    user = auth.login_as("physician")
    response = client.get(f"/review/submissions/{submission_id}/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = Bundle.model_validate(response.get_json())
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Questionnaire", "QuestionnaireResponse", *["Observation"] * 5]
    with new_session(app) as session:
        stored = session.get_one(Submission, submission_id)
        assert read_back(response.get_json()["entry"][1]["resource"]) == stored.answers
    (event,) = events(app, "fhir.bundle_downloaded")
    assert (event.actor, event.subject_type, event.subject_id) == (f"user:{user.id}", "submission", submission_id)
    assert event.details == {"form_version": "test", "resources": 7}


def test_an_admin_downloads_the_bundle_from_the_submission_page(app: Flask, client: FlaskClient, auth: Auth) -> None:
    (submission_id,) = add_answered(app, 1)
    auth.login_as("admin")
    page = client.get(f"/admin/submissions/{submission_id}/contact").get_data(as_text=True)
    assert f'href="/admin/submissions/{submission_id}/fhir"' in page
    response = client.get(f"/admin/submissions/{submission_id}/fhir")
    assert response.status_code == 200 and response.get_json()["type"] == "collection"
    assert len(events(app, "fhir.bundle_downloaded")) == 1


def test_other_roles_are_refused_and_nothing_is_audited(app: Flask, client: FlaskClient, auth: Auth) -> None:
    (submission_id,) = add_answered(app, 1)
    auth.login_as("staff")
    assert client.get(f"/review/submissions/{submission_id}/fhir").status_code == 403
    assert client.get(f"/admin/submissions/{submission_id}/fhir").status_code == 403
    assert events(app, "fhir.bundle_downloaded") == []


def test_a_missing_or_unexportable_submission_is_a_page_not_a_failure(
    app: Flask, client: FlaskClient, auth: Auth
) -> None:
    with new_session(app) as session:
        broken = add_submission(session).id  # answers {}: not an answers document
        session.commit()
    auth.login_as("physician")
    assert client.get("/review/submissions/999999/fhir").status_code == 404
    assert client.get(f"/review/submissions/{broken}/fhir").status_code == 409
    assert events(app, "fhir.bundle_downloaded") == []


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_export_writes_ndjson_per_resource_type_and_is_audited(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    add_answered(app, 3, consent=True)
    add_answered(app, 1, start=NOW + timedelta(days=5))  # outside the range
    result = runner.invoke(args=["export", "fhir", "--from", "2026-11-24", "--to", "2026-11-24", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("Exported 3 submission(s)")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Observation.ndjson",
        "Questionnaire.ndjson",
        "QuestionnaireResponse.ndjson",
    ]
    for path in tmp_path.iterdir():
        for resource in lines(path):
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert len(lines(tmp_path / "QuestionnaireResponse.ndjson")) == 3
    assert len(lines(tmp_path / "Observation.ndjson")) == 15
    assert EMAIL not in "".join(p.read_text() for p in tmp_path.iterdir())
    (event,) = events(app, "fhir.exported")
    assert event.actor == "cli" and event.subject_id is None
    assert event.details == {
        "from": "2026-11-24",
        "to": "2026-11-24",
        "with_contact": False,
        "skipped": 0,
        "Questionnaire_count": 1,
        "QuestionnaireResponse_count": 3,
        "Observation_count": 15,
    }


def test_with_contact_only_consenting_patients_are_written(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    consenting = add_answered(app, 2, consent=True)
    add_answered(app, 1, start=NOW + timedelta(hours=3), consent=False)
    args = ["export", "fhir", "--from", "2026-11-24", "--to", "2026-11-24", "--with-contact", str(tmp_path)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    patients = lines(tmp_path / "Patient.ndjson")
    assert [p["id"] for p in patients] == [f"submission-{i}-patient" for i in consenting]
    assert patients[0]["telecom"][0] == {"system": "email", "value": EMAIL}
    responses = lines(tmp_path / "QuestionnaireResponse.ndjson")
    assert [r.get("subject") for r in responses] == [
        {"reference": f"Patient/submission-{consenting[0]}-patient"},
        {"reference": f"Patient/submission-{consenting[1]}-patient"},
        None,
    ]
    assert events(app, "fhir.exported")[0].details["Patient_count"] == 2


def test_an_empty_range_writes_only_the_questionnaire_and_exits_0(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(args=["export", "fhir", "--from", "2020-01-01", "--to", "2020-01-31", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Exported 0 submission(s)" in result.output
    assert [r["resourceType"] for r in lines(tmp_path / "Questionnaire.ndjson")] == ["Questionnaire"]
    assert (tmp_path / "QuestionnaireResponse.ndjson").read_text() == ""
    assert (tmp_path / "Observation.ndjson").read_text() == ""
    assert events(app, "fhir.exported")[0].details["QuestionnaireResponse_count"] == 0


def test_a_bad_date_is_one_line_and_a_non_zero_exit(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    for first, last, message in (
        ("2026-13-01", "2026-12-31", "Error: --from: Enter a date as YYYY-MM-DD, such as 2026-11-24."),
        ("2026-01-01", "yesterday", "Error: --to: Enter a date as YYYY-MM-DD, such as 2026-11-24."),
        ("2026-02-01", "2026-01-01", "Error: --to: The end date is before the start date."),
    ):
        result = runner.invoke(args=["export", "fhir", "--from", first, "--to", last, str(tmp_path / "out")])
        assert result.exit_code != 0
        assert result.output.strip() == message
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists() and events(app, "fhir.exported") == []


def test_a_stored_submission_that_is_not_an_answers_document_is_left_out_and_counted(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    add_answered(app, 1)
    with new_session(app) as session:
        add_submission(session, submitted_at=NOW + timedelta(minutes=5))
        session.commit()
    result = runner.invoke(args=["export", "fhir", "--from", "2026-11-24", "--to", "2026-11-24", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 left out" in result.output
    assert len(lines(tmp_path / "QuestionnaireResponse.ndjson")) == 1
    assert events(app, "fhir.exported")[0].details["skipped"] == 1
