"""Submitting: the stored document, scores and audit event, submitting once, and the self-harm safety path."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from screening.db import new_session
from screening.patient.intake import service
from screening.patient.intake.steps import FORM_VERSION
from screening.models import AuditEvent
from screening.models import Draft
from screening.models import Submission

from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import FIBROMYALGIA
from .patient import rows
from .patient import saved_steps
from .patient import step_path
from .ruleset_files import rules_version

REFERENCE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")

#: The canonical answers document the default answers make.
EXPECTED_DOCUMENT: dict[str, Any] = {
    "age": 46,
    "sex_at_birth": "female",
    "pregnancy": "no",
    "breastfeeding": False,
    "diagnoses": ["fibromyalgia", "depression"],
    **FIBROMYALGIA,
    "pain_average": 6,
    "phq9": [2, 2, 2, 2, 1, 2, 2, 2, 0],
    "gad7": [2, 1, 1, 2, 1, 0, 1],
    "isi": [3, 2, 2, 2, 3, 1, 3],
    "medication_trials": [
        {
            "drug": "sertraline",
            "dose_mg_per_day": 100,
            "weeks": 12,
            "improvement_pct": 10,
            "current_episode": True,
            "stopped_early": False,
        },
        {
            "drug": "duloxetine",
            "dose_mg_per_day": 60,
            "weeks": 8,
            "improvement_pct": 20,
            "current_episode": True,
            "stopped_early": False,
        },
    ],
    "therapies": {"graded_exercise": "tried", "cbt": "never", "sleep_treatment": "current"},
    "medical_history": [],
    "current_medications": [],
}

#: Worked out by hand from the default answers and the published scoring.
EXPECTED_SCORES = {
    "wpi": 10,
    "sss": 9,  # 3 + 2 + 2, plus headaches and depression
    "fs": 19,
    "fs_band": "severe",
    "generalized_pain_regions": 5,
    "fibromyalgia_acr2016": True,
    "pain_average": 6,
    "pain_band": "moderate",
    "phq9": 15,
    "phq9_band": "moderately_severe",
    "phq9_item9": 0,
    "gad7": 8,
    "gad7_band": "mild",
    "isi": 16,
    "isi_band": "moderate",
}


def _submitted(app: Flask) -> Submission:
    submissions = rows(app, Submission)
    assert len(submissions) == 1, submissions
    return submissions[0]


def _reference_on(patient: Patient) -> str:
    """Return the reference code the confirmation page shows."""
    found = re.search(r'id="reference-code">([^<]+)<', patient.get("/intake/done").get_data(as_text=True))
    assert found is not None
    return found.group(1).strip()


def _resume_token(patient: Patient) -> str:
    token = page(patient.get("/intake/review")).resume_token()
    assert token is not None
    return token


# --- The stored submission ------------------------------------------------------------------------------------


def test_submit_stores_the_canonical_document_scores_and_version(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    response = patient.submit()
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/done"
    submission = _submitted(app)
    assert submission.answers == EXPECTED_DOCUMENT
    assert submission.scores == EXPECTED_SCORES
    assert submission.form_version == FORM_VERSION == "intake-2026.12-1"
    assert REFERENCE.match(submission.reference)
    assert submission.safety_flag is False
    assert submission.draft_id == only_draft(app).id
    assert submission.submitted_at.tzinfo is not None


def test_the_confirmation_page_shows_the_reference_code(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    done = patient.get("/intake/done")
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "We have received your answers" in html
    assert f'id="reference-code">{_submitted(app).reference}<' in html
    assert 'class="crisis' not in html
    assert "not monitored in real time" in html


def submission_events(app: Flask) -> list[AuditEvent]:
    """Return the audit events about submissions (rule set activations are audited too)."""
    return [event for event in rows(app, AuditEvent) if event.subject_type == "submission"]


def test_the_audit_event_is_written_with_the_submission_and_holds_no_answers(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    submission = _submitted(app)
    [event] = submission_events(app)
    assert event.action == "submission.created"
    assert event.actor == "patient"
    assert event.subject_type == "submission"
    assert event.subject_id == submission.id
    assert event.at == submission.submitted_at
    assert event.remote_addr == "127.0.0.1"
    version = event.details.pop("ruleset_version")
    assert version == rules_version()
    assert event.details == {"form_version": FORM_VERSION, "safety_flag": False}
    stored = json.dumps(event.details)
    for answer in ("46", "female", "fibromyalgia", "sertraline", "shoulder_girdle_left", "48", "tried"):
        assert answer not in stored


def test_no_submission_is_stored_when_the_audit_event_cannot_be(
    app: Flask, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient.answer_all()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("screening.audit.record", broken)
    response = patient.submit()
    assert response.status_code == 500
    assert "Your saved answers are kept" in response.get_data(as_text=True)
    assert rows(app, Submission) == []
    assert submission_events(app) == []
    # The answers are still in the draft, and a later try succeeds.
    assert set(saved_steps(app)) == set(STEP_ORDER)
    monkeypatch.undo()
    assert patient.submit().headers["Location"] == "/intake/done"
    assert _submitted(app).answers == EXPECTED_DOCUMENT
    assert len(submission_events(app)) == 1


def test_after_submitting_the_answers_live_in_the_submission_only(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    assert only_draft(app).steps == {}


def test_many_submissions_get_distinct_references(app: Flask) -> None:
    references = set()
    for _ in range(3):
        someone = Patient(app.test_client())
        someone.answer_all()
        someone.submit()
        references.add(_reference_on(someone))
    assert len(references) == 3
    assert all(REFERENCE.match(reference) for reference in references)
    assert {s.reference for s in rows(app, Submission)} == references


# --- Answers that change the document ---------------------------------------------------------------------


def test_pregnancy_and_breastfeeding_are_ignored_for_males(app: Flask, patient: Patient) -> None:
    patient.answer_all({"about": {"sex_at_birth": "male", "pregnancy": "yes", "breastfeeding": "yes"}})
    review = patient.get("/intake/review").get_data(as_text=True)
    assert "<dd>Male</dd>" in review
    assert "Are you pregnant" not in review
    assert "Are you breastfeeding" not in review
    patient.submit()
    answers = _submitted(app).answers
    assert answers["sex_at_birth"] == "male"
    assert answers["pregnancy"] == "not_applicable"
    assert answers["breastfeeding"] is False


def test_pregnancy_answers_are_kept_for_females(app: Flask, patient: Patient) -> None:
    patient.answer_all({"about": {"pregnancy": "possible", "breastfeeding": "yes"}})
    patient.submit()
    answers = _submitted(app).answers
    assert (answers["pregnancy"], answers["breastfeeding"]) == ("possible", True)


def test_other_medicines_blank_rows_and_decimal_doses(app: Flask, patient: Patient) -> None:
    treatments = {
        "medications-0-drug": "other",
        "medications-0-other_name": "  Agomelatine   XR ",
        "medications-0-dose_mg_per_day": "37.5",
        "medications-0-weeks": "6",
        "medications-0-improvement_pct": "0",
        "medications-0-current_episode": "no",
        "medications-0-stopped_early": "yes",
        # A blank row, as a browser posts it, is ignored.
        "medications-1-drug": "",
        "medications-1-other_name": "",
        "medications-1-dose_mg_per_day": "",
        "medications-1-weeks": "",
        "medications-1-improvement_pct": "",
        # A listed medicine ignores a name typed in the "other" box.
        "medications-2-drug": "amitriptyline",
        "medications-2-other_name": "ignored",
        "medications-2-dose_mg_per_day": "25",
        "medications-2-weeks": "10",
        "medications-2-improvement_pct": "100",
        "medications-2-current_episode": "yes",
        "medications-2-stopped_early": "no",
        "graded_exercise": "never",
        "cbt": "current",
        "sleep_treatment": "tried",
    }
    patient.answer_all(until="treatments")
    assert patient.post("/intake/treatments", treatments).headers["Location"] == "/intake/history"
    patient.answer(
        "history",
        {"medical_history": ["glaucoma", "bladder_problems"], "current_medications": ["opioid"]},
        drop=["medical_history_none", "current_medications_none"],
    )
    patient.answer("contact")
    review = patient.get("/intake/review").get_data(as_text=True)
    assert (
        "<dt>agomelatine xr</dt><dd>37.5 mg a day for 6 weeks; 0% better; before the current period of depression; "
        "stopped early for side effects</dd>" in review
    )
    patient.submit()
    answers = _submitted(app).answers
    assert answers["medication_trials"] == [
        {
            "drug": "agomelatine xr",
            "dose_mg_per_day": 37.5,
            "weeks": 6,
            "improvement_pct": 0,
            "current_episode": False,
            "stopped_early": True,
        },
        {
            "drug": "amitriptyline",
            "dose_mg_per_day": 25,
            "weeks": 10,
            "improvement_pct": 100,
            "current_episode": True,
            "stopped_early": False,
        },
    ]
    assert answers["therapies"] == {"graded_exercise": "never", "cbt": "current", "sleep_treatment": "tried"}
    assert answers["medical_history"] == ["glaucoma", "bladder_problems"]
    assert answers["current_medications"] == ["opioid"]


def test_no_medicines_and_no_pain_areas(app: Flask, patient: Patient) -> None:
    patient.answer_all(
        {"pain": {"pain_areas": [], "pain_duration_months": "0", "pain_average": "0"}}, until="treatments"
    )
    patient.post("/intake/treatments", {"graded_exercise": "never", "cbt": "never", "sleep_treatment": "never"})
    patient.answer("history")
    patient.answer("contact")
    patient.submit()
    submission = _submitted(app)
    assert submission.answers["medication_trials"] == []
    assert submission.answers["pain_areas"] == []
    assert submission.scores["wpi"] == 0
    assert submission.scores["fibromyalgia_acr2016"] is False
    assert submission.scores["pain_band"] == "none"


def test_a_box_posted_twice_is_stored_once(app: Flask, patient: Patient) -> None:
    patient.answer_all(
        {"about": {"diagnoses": ["fibromyalgia", "fibromyalgia", "migraine"]}, "pain": {"pain_areas": ["neck", "neck"]}}
    )
    assert patient.submit().headers["Location"] == "/intake/done"
    answers = _submitted(app).answers
    assert answers["diagnoses"] == ["fibromyalgia", "migraine"]
    assert answers["pain_areas"] == ["neck"]


def test_the_latest_answers_to_a_step_are_the_ones_submitted(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.post("/intake/age", {"age": "63", "return_to": "review"})
    patient.post("/intake/mood", {**DEFAULT_ANSWERS["mood"], "phq9_1": "3", "return_to": "review"})
    patient.submit()
    submission = _submitted(app)
    assert submission.answers["age"] == 63
    assert submission.answers["phq9"][0] == 3
    assert submission.scores["phq9"] == 16


# --- Submitting once ---------------------------------------------------------------------------------------------


def test_a_second_post_stores_nothing_more_and_shows_the_same_reference(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    second = patient.submit()  # pressed twice, before the confirmation loads
    assert second.status_code == 302
    assert second.headers["Location"] == "/intake/done"
    assert _submitted(app).reference == _reference_on(patient)
    assert len(submission_events(app)) == 1


def test_back_button_then_submit_again_stores_one_submission(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    _reference_on(patient)
    # The back button shows the review page again: the confirmation was shown, so it starts a new form.
    assert patient.get("/intake/review").headers["Location"] == "/"
    assert patient.submit().headers["Location"] == "/"
    assert len(rows(app, Submission)) == 1


def test_two_tabs_with_the_same_resume_link_store_one_submission(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    other = Patient(app.test_client())
    assert other.resume(_resume_token(patient)).headers["Location"] == "/intake/review"
    assert other.get("/intake/review").status_code == 200
    assert patient.submit().headers["Location"] == "/intake/done"
    assert other.submit().headers["Location"] == "/intake/done"
    reference = _submitted(app).reference
    done = page(patient.get("/intake/done"))
    assert done.resume_token() is None  # the link is no longer offered
    assert reference in done.html
    assert _reference_on(other) == reference
    assert len(rows(app, Submission)) == 1


def test_the_resume_link_of_a_submitted_form_opens_the_confirmation(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    token = _resume_token(patient)
    patient.submit()
    reference = _reference_on(patient)
    later = Patient(app.test_client())
    assert later.resume(token).headers["Location"] == "/intake/done"
    assert _reference_on(later) == reference
    assert later.get("/intake/about").headers["Location"] == "/"  # shown once, then forgotten


def test_a_submission_made_at_the_same_moment_elsewhere_stands(
    app: Flask, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient.answer_all()
    before = only_draft(app)
    patient.submit()
    reference = _submitted(app).reference
    # A second request that read the draft before the first one committed: it sees no submission yet.
    with new_session(app) as session:
        session.execute(sa.update(Draft).values(steps=before.steps, contact_sealed=before.contact_sealed))
        session.commit()
    monkeypatch.setattr(service, "submission_for", lambda session, draft: None)
    response = patient.submit()
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/done"
    monkeypatch.undo()
    assert _submitted(app).reference == reference
    assert len(submission_events(app)) == 1
    assert _reference_on(patient) == reference


@pytest.mark.parametrize("key", STEP_ORDER)
def test_after_submitting_every_step_leads_to_the_confirmation(patient: Patient, key: str) -> None:
    patient.answer_all()
    patient.submit()
    response = patient.get(step_path(key))
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/done"
    posted = patient.answer(key, {"age": "17"} if key == "age" else None)
    assert posted.status_code == 302
    assert posted.headers["Location"] == "/intake/done"


def test_after_submitting_review_leads_to_the_confirmation_and_nothing_changes(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    assert patient.get("/intake/review").headers["Location"] == "/intake/done"
    patient.answer("age", {"age": "17"})
    assert _submitted(app).answers["age"] == 46
    assert only_draft(app).steps == {}


def test_submitting_an_incomplete_form_goes_to_the_missing_step(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="sleep")
    response = patient.submit()
    assert response.headers["Location"] == "/intake/sleep"
    assert rows(app, Submission) == []


def test_the_done_page_without_a_submission_goes_to_the_start(patient: Patient) -> None:
    patient.answer_all()
    assert patient.get("/intake/done").headers["Location"] == "/"


# --- Safety: PHQ-9 item 9 ------------------------------------------------------------------------------------------


def _crisis_first(html: str, *after: str) -> None:
    """Assert the full crisis section, with 988 and 911, comes before each of ``after``."""
    crisis = html.index('<section class="crisis"')
    assert html.index('href="tel:988"', crisis) < html.index('href="tel:911"', crisis)
    for marker in after:
        assert crisis < html.index(marker), marker


@pytest.mark.parametrize("item9", ["1", "2", "3"])
def test_item_9_above_0_leads_to_crisis_resources_first_and_flags_the_draft(
    app: Flask, patient: Patient, item9: str
) -> None:
    patient.answer_all(until="mood")
    assert only_draft(app).safety_flagged_at is None
    response = patient.answer("mood", {"phq9_9": item9})
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/support?next=anxiety"
    support = patient.get(response.headers["Location"])
    assert support.status_code == 200
    html = support.get_data(as_text=True)
    main = html[html.index("<main") :]
    assert "Call or text" in main and "988" in main
    assert "immediate danger, call" in main and "911" in main
    assert "emergency department" in main
    _crisis_first(main, "Your answers so far are saved", "Continue the form")
    assert main.index('<section class="crisis"') < main.index("<p")  # nothing before it
    assert 'href="/intake/anxiety"' in main
    assert only_draft(app).safety_flagged_at is not None


def test_later_pages_show_the_short_crisis_notice(app: Flask, patient: Patient) -> None:
    patient.answer_all({"mood": {"phq9_9": "1"}})
    for key in ("anxiety", "sleep", "treatments", "history"):
        html = patient.get(step_path(key)).get_data(as_text=True)
        notice = html.index('class="crisis crisis-short"')
        assert notice < html.index("<h1>"), key
        assert html.index('href="tel:988"') > notice, key
    review = patient.get("/intake/review").get_data(as_text=True)
    assert review.index('class="crisis crisis-short"') < review.index("<h1>")


def test_the_confirmation_shows_crisis_resources_first_and_the_submission_is_flagged(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all({"mood": {"phq9_9": "2"}})
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    _crisis_first(html, 'id="reference-code"', "What happens next")
    assert html.index("<h1>We have received your answers</h1>") < html.index('<section class="crisis"')
    submission = _submitted(app)
    assert submission.safety_flag is True
    assert submission.scores["phq9_item9"] == 2
    assert submission.answers["phq9"][8] == 2
    [event] = submission_events(app)
    assert event.details["safety_flag"] is True


def test_an_invalid_phq9_with_item_9_shows_crisis_resources_above_the_errors(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="mood")
    response = patient.post("/intake/mood", {"phq9_1": "1", "phq9_9": "3"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    _crisis_first(html, 'class="error-summary"', "<h1>", 'name="phq9_1"')
    assert page(response).field_errors()["phq9_2"] == "Choose one of the answers."
    assert only_draft(app).safety_flagged_at is not None


@pytest.mark.parametrize(("action", "destination"), [("back", "symptoms"), ("save", "saved")])
def test_item_9_above_0_shows_crisis_resources_whichever_button_is_pressed(
    patient: Patient, action: str, destination: str
) -> None:
    patient.answer_all(until="mood")
    response = patient.answer("mood", {"phq9_9": "1"}, action=action)
    assert response.headers["Location"] == f"/intake/support?next={destination}"
    html = patient.get(response.headers["Location"]).get_data(as_text=True)
    assert 'href="tel:988"' in html
    expected = "/intake/saved" if destination == "saved" else "/intake/symptoms"
    assert f'href="{expected}"' in html


def test_item_9_changed_from_review_returns_to_review_through_the_support_page(patient: Patient) -> None:
    patient.answer_all()
    response = patient.post("/intake/mood", {**DEFAULT_ANSWERS["mood"], "phq9_9": "1", "return_to": "review"})
    assert response.headers["Location"] == "/intake/support?next=review"
    assert 'href="/intake/review"' in patient.get(response.headers["Location"]).get_data(as_text=True)


def test_the_flag_stays_when_item_9_is_changed_back_to_0(app: Flask, patient: Patient) -> None:
    patient.answer_all({"mood": {"phq9_9": "1"}})
    flagged_at = only_draft(app).safety_flagged_at
    assert flagged_at is not None
    patient.post("/intake/mood", {**DEFAULT_ANSWERS["mood"], "return_to": "review"})
    assert only_draft(app).safety_flagged_at == flagged_at
    patient.submit()
    submission = _submitted(app)
    assert submission.scores["phq9_item9"] == 0
    assert submission.safety_flag is True
    assert 'class="crisis"' in patient.get("/intake/done").get_data(as_text=True)


def test_item_9_at_0_shows_no_crisis_pages(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="mood")
    response = patient.answer("mood")
    assert response.headers["Location"] == "/intake/anxiety"
    patient.answer_all()
    for path in [*(step_path(key) for key in STEP_ORDER), "/intake/review"]:
        assert 'class="crisis' not in patient.get(path).get_data(as_text=True), path
    assert only_draft(app).safety_flagged_at is None
    patient.submit()
    assert 'class="crisis' not in patient.get("/intake/done").get_data(as_text=True)
    assert _submitted(app).safety_flag is False


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/intake/age",
        "/intake/about",
        "/intake/mood",
        "/intake/history",
        "/intake/review",
        "/intake/saved",
        "/intake/support?next=anxiety",
        "/adults-only",
        "/intake/done",
        "/no-such-page",
        "/resume/unknown-token",
    ],
)
def test_every_page_footer_says_not_monitored_and_gives_988(patient: Patient, path: str) -> None:
    patient.answer_all()
    if path == "/intake/done":
        patient.submit()
    response = patient.get(path)
    assert response.status_code in (200, 404), path
    html = response.get_data(as_text=True)
    footer = html[html.index("<footer") :]
    assert "not monitored in real time" in footer
    assert 'href="tel:988"' in footer
