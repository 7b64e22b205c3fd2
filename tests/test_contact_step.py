"""The wizard's contact step through the test client: its checks, the consent, declining, and the confirmation."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from screening.models import SubmissionContact

from .patient import CONTACT_DETAILS
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import rows
from .patient import saved_steps

CLINIC_TEL = 'href="tel:+12125550123"'


def _reference(html: str) -> str:
    found = re.search(r'id="reference-code">([^<]+)<', html)
    assert found is not None
    return found.group(1).strip()


def _on_contact_step(patient: Patient) -> None:
    patient.answer_all(until="contact")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "jordan@@example"}, "email", "This e-mail address is not valid"),
        ({"email": "jordan at example.org"}, "email", "This e-mail address is not valid"),
        ({"phone": "555-0187"}, "phone", "This phone number is not valid"),
        ({"phone": "(212) 055-0187"}, "phone", "This phone number is not valid"),
        ({"phone": "call me"}, "phone", "This phone number is not valid"),
    ],
)
def test_a_bad_email_or_phone_is_shown_beside_its_field(
    app: Flask, patient: Patient, changes: dict[str, str], field: str, message: str
) -> None:
    _on_contact_step(patient)
    response = patient.post("/intake/contact", {**CONTACT_DETAILS, **changes})
    assert response.status_code == 422
    shown = page(response)
    assert message in shown.field_errors()[field]
    assert any(href == f"#{field}" for href, _ in shown.summary_links)
    # What was typed is kept for the next try, as on every step, but only encrypted.
    draft = only_draft(app)
    assert "contact" not in draft.steps and draft.contact_sealed is not None
    assert CONTACT_DETAILS["preferred_name"] not in draft.contact_sealed


def test_consent_is_required_when_details_are_given(app: Flask, patient: Patient) -> None:
    _on_contact_step(patient)
    answers = {name: value for name, value in CONTACT_DETAILS.items() if name != "consent"}
    response = patient.post("/intake/contact", answers)
    assert response.status_code == 422
    assert "Tick the box to agree to be contacted" in page(response).field_errors()["consent"]
    assert patient.get("/intake/review").headers["Location"] == "/intake/contact"


def test_a_way_to_reach_the_patient_is_required(patient: Patient) -> None:
    _on_contact_step(patient)
    response = patient.post("/intake/contact", {**CONTACT_DETAILS, "email": "", "phone": ""})
    assert response.status_code == 422
    assert "Give an e-mail address or a phone number" in page(response).field_errors()["email"]
    phone_only = patient.post("/intake/contact", {**CONTACT_DETAILS, "phone": "", "preferred_method": "phone"})
    assert "Give a phone number, as you prefer a call" in page(phone_only).field_errors()["phone"]


def test_the_choice_is_required(patient: Patient) -> None:
    _on_contact_step(patient)
    response = patient.post("/intake/contact", {})
    assert response.status_code == 422
    assert "contact_choice" in page(response).field_errors()


def test_declining_keeps_only_the_choice_even_with_details_typed(app: Flask, patient: Patient) -> None:
    _on_contact_step(patient)
    response = patient.post("/intake/contact", {**CONTACT_DETAILS, "contact_choice": "decline", "consent": ""})
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/review"
    assert saved_steps(app)["contact"] == [["contact_choice", "decline"]]
    review = patient.get("/intake/review").get_data(as_text=True)
    assert "You chose not to be contacted" in review
    assert CONTACT_DETAILS["email"] not in review


def test_the_confirmation_after_declining_says_how_to_reach_the_clinic_quoting_the_reference(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all()  # the default answers decline contact
    assert patient.submit().headers["Location"] == "/intake/done"
    confirmation = patient.get("/intake/done")  # shown once only
    html = confirmation.get_data(as_text=True)
    reference = _reference(html)
    declined = page(confirmation).text_of("declined-heading")
    assert declined == "You chose not to be contacted"
    section = html[html.index('class="contact-declined"') :]
    section = section[: section.index("</section>")]
    assert f"<strong>{reference}</strong>" in section
    assert "Harbor Ketamine Clinic" in section and CLINIC_TEL in section
    assert rows(app, SubmissionContact) == []


def test_the_confirmation_with_details_does_not_say_declined(app: Flask, patient: Patient) -> None:
    patient.answer_all({"contact": CONTACT_DETAILS})
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    assert "You chose not to be contacted" not in html
    assert len(rows(app, SubmissionContact)) == 1


def test_the_review_shows_the_details_given(patient: Patient) -> None:
    patient.answer_all({"contact": CONTACT_DETAILS})
    html = patient.get("/intake/review").get_data(as_text=True)
    assert "<dd>jordan.rivers@example.org</dd>" in html
    assert "<dd>+12125550187</dd>" in html or "<dd>(212) 555-0187</dd>" in html
    assert 'href="/intake/contact?from=review"' in html
