"""The wizard's navigation through the Flask test client: progress, Next, Back, review and editing, gating."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.models import Draft

from .patient import DEFAULT_ANSWERS
from .patient import FOOTER_NOTICE
from .patient import STEP_NUMBERS
from .patient import STEP_ORDER
from .patient import TOTAL_STEPS
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import posted_pairs
from .patient import rows
from .patient import step_path

#: Every step after the welcome page, the ones a patient can go back from to a previous step.
LATER_STEPS = STEP_ORDER[1:]
#: The heading each step shows.
HEADINGS = {
    "welcome": "Check whether ketamine therapy could be right for you",
    "age": "Your age",
    "about": "About you",
    "pain": "Pain",
    "symptoms": "Other symptoms",
    "mood": "Mood (PHQ-9)",
    "anxiety": "Anxiety (GAD-7)",
    "sleep": "Sleep (ISI)",
    "treatments": "Treatments you have tried",
    "history": "Medical history",
    "contact": "How the clinic may reach you",
}
#: Answers that differ from the defaults on every step, to prove a step shows what was posted.
CHANGED = {
    "welcome": {"consent": "y"},
    "age": {"age": "52"},
    "about": {
        "sex_at_birth": "intersex",
        "pregnancy": "not_applicable",
        "breastfeeding": "no",
        "diagnoses": ["migraine"],
    },
    "pain": {"pain_areas": ["jaw_left", "chest"], "pain_duration_months": "7", "pain_average": "9"},
    "symptoms": {
        "fatigue": "1",
        "unrefreshed": "0",
        "cognitive": "3",
        "headaches": "0",
        "lower_abdominal": "1",
        "depression": "0",
    },
    "mood": {f"phq9_{i}": v for i, v in enumerate("012301230", start=1)},
    "anxiety": {f"gad7_{i}": v for i, v in enumerate("3210321", start=1)},
    "sleep": {f"isi_{i}": v for i, v in enumerate("4321012", start=1)},
    "treatments": {
        "medications-0-drug": "pregabalin",
        "medications-0-dose_mg_per_day": "37.5",
        "medications-0-weeks": "3",
        "medications-0-improvement_pct": "55",
        "medications-0-current_episode": "no",
        "medications-0-stopped_early": "yes",
        "graded_exercise": "current",
        "cbt": "tried",
        "sleep_treatment": "never",
    },
    "history": {"medical_history": ["glaucoma"], "current_medications_none": "y"},
    "contact": {
        "contact_choice": "contact",
        "preferred_name": "Sam",
        "email": "sam@example.org",
        "phone": "(415) 555-0132",
        "preferred_method": "phone",
        "preferred_time": "evening",
        "state": "CA",
        "consent": "y",
    },
}


def _expected_shown(answers: dict[str, str | list[str]]) -> dict[str, list[str]]:
    """Return posted answers as ``Page.shown()`` reports them."""
    shown: dict[str, list[str]] = {}
    for name, value in posted_pairs(answers):
        shown.setdefault(name, []).append(value)
    return shown


def _previous(key: str) -> str:
    return STEP_ORDER[STEP_ORDER.index(key) - 1]


def _next(key: str) -> str:
    index = STEP_ORDER.index(key)
    return STEP_ORDER[index + 1] if index + 1 < len(STEP_ORDER) else "review"


def _path(key: str) -> str:
    return "/intake/review" if key == "review" else step_path(key)


# --- Every step renders ----------------------------------------------------------------------------


def test_every_step_renders_with_its_progress_heading_and_footer(patient: Patient) -> None:
    patient.answer_all()
    for key in STEP_ORDER:
        shown = page(patient.get(step_path(key)))
        assert shown.status == 200, key
        number = STEP_NUMBERS[key]
        assert f"Step {number} of {TOTAL_STEPS}" in shown.html, key
        assert f"<h1>{HEADINGS[key]}</h1>" in shown.html, key
        assert 'name="csrf_token"' in shown.html
        assert FOOTER_NOTICE in shown.html and 'href="tel:988"' in shown.html, key
        # Nothing crisis-related for a patient who did not report thoughts of self-harm.
        assert 'class="crisis' not in shown.html, key
    review = page(patient.get("/intake/review"))
    assert review.status == 200
    assert f"Step {TOTAL_STEPS} of {TOTAL_STEPS}" in review.html
    assert TOTAL_STEPS == 12


def test_a_fresh_visitor_sees_the_welcome_and_consent(client: FlaskClient) -> None:
    welcome = page(client.get("/"))
    assert welcome.status == 200
    assert "Step 1 of 12" in welcome.html
    assert "What we collect and why" in welcome.html
    assert "not an emergency service" in welcome.html
    assert 'type="checkbox"' in welcome.html and 'name="consent"' in welcome.html
    assert welcome.shown() == {}
    # No resume link before anything is stored.
    assert welcome.resume_token() is None


def test_each_step_shows_the_answers_saved_for_it(patient: Patient) -> None:
    patient.answer_all()
    for key in STEP_ORDER:
        shown = page(patient.get(step_path(key))).shown()
        assert shown == _expected_shown(DEFAULT_ANSWERS[key]), key


# --- Next and Back -------------------------------------------------------------------------------


def test_next_goes_to_the_following_step_and_the_last_step_to_review(patient: Patient) -> None:
    patient.get("/")
    for key in STEP_ORDER:
        response = patient.answer(key)
        assert response.status_code == 302, key
        assert response.headers["Location"] == _path(_next(key)), key


@pytest.mark.parametrize("key", LATER_STEPS)
def test_back_goes_to_the_previous_step_and_keeps_the_answers(patient: Patient, key: str) -> None:
    patient.answer_all()
    response = patient.post(step_path(key), CHANGED[key], action="back")
    assert response.status_code == 302
    assert response.headers["Location"] == step_path(_previous(key))
    # The previous step still shows its own answers...
    assert page(patient.get(step_path(_previous(key)))).shown() == _expected_shown(DEFAULT_ANSWERS[_previous(key)])
    # ...and returning shows the answers posted with Back, not the earlier ones.
    assert page(patient.get(step_path(key))).shown() == _expected_shown(CHANGED[key])


@pytest.mark.parametrize("key", ["about", "pain", "mood", "treatments", "history"])
def test_back_keeps_incomplete_answers_without_showing_errors(app: Flask, patient: Patient, key: str) -> None:
    patient.answer_all(until=key)
    answers = dict(CHANGED[key])
    incomplete = dict(list(answers.items())[:1])  # only the first question answered
    response = patient.post(step_path(key), incomplete, action="back")
    assert response.status_code == 302
    assert response.headers["Location"] == step_path(_previous(key))
    again = page(patient.get(step_path(key)))
    assert again.status == 200
    assert again.shown() == _expected_shown(incomplete)
    assert again.field_errors() == {}
    assert only_draft(app).steps[key] == [list(pair) for pair in posted_pairs(incomplete)]


def test_back_from_the_age_step_goes_to_the_welcome_page(patient: Patient) -> None:
    patient.answer_all(until="age")
    response = patient.answer("age", action="back")
    assert response.headers["Location"] == "/"
    assert page(patient.get("/")).shown() == {"consent": ["y"]}
    assert page(patient.get("/intake/age")).shown() == {"age": ["46"]}


def test_next_then_back_then_next_walks_the_same_steps(patient: Patient) -> None:
    patient.answer_all(until="mood")
    assert patient.answer("mood").headers["Location"] == "/intake/anxiety"
    assert patient.answer("anxiety", action="back").headers["Location"] == "/intake/mood"
    assert patient.answer("mood", action="back").headers["Location"] == "/intake/symptoms"
    assert patient.answer("symptoms").headers["Location"] == "/intake/mood"
    assert page(patient.get("/intake/anxiety")).shown() == _expected_shown(DEFAULT_ANSWERS["anxiety"])


def test_save_and_finish_later_keeps_the_answers_and_shows_the_link(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    response = patient.post("/intake/pain", CHANGED["pain"], action="save")
    assert response.headers["Location"] == "/intake/saved"
    saved = page(patient.get("/intake/saved"))
    assert saved.status == 200
    assert "Your answers are saved" in saved.html
    assert "7 days" in saved.html
    token = saved.resume_token()
    assert token is not None
    assert only_draft(app).steps["pain"] == [list(pair) for pair in posted_pairs(CHANGED["pain"])]


# --- Review and editing from review ----------------------------------------------------------------


def test_review_lists_every_answer_with_a_change_link_per_step(patient: Patient) -> None:
    patient.answer_all()
    review = page(patient.get("/intake/review"))
    assert review.status == 200
    html = review.html
    for key in LATER_STEPS:
        assert f'href="/intake/{key}?from=review"' in html, key
    assert 'href="/?from=review"' not in html  # consent is not an answer to change
    expected_rows = [
        ("How old are you?", "46"),
        ("What sex were you assigned at birth?", "Female"),
        ("Are you pregnant, or could you be pregnant?", "No"),
        ("Are you breastfeeding?", "No"),
        ("Has a doctor ever told you that you have any of these conditions?", "Fibromyalgia; Depression"),
        (
            "In the past week, where have you had pain or tenderness?",
            "Left shoulder; Left upper arm; Right shoulder; Right lower arm; Left hip (buttock); Left upper leg; "
            "Right hip (buttock); Neck; Upper back; Lower back",
        ),
        ("For how many months have these symptoms been generally present?", "48 months"),
        ("Please rate your pain on average over the past week", "6"),
        ("Fatigue", "Severe; pervasive, continuous, life-disturbing problems"),
        ("Headaches", "Yes"),
        ("Pain or cramps in the lower abdomen", "No"),
        ("Little interest or pleasure in doing things", "More than half the days"),
        ("Thoughts that you would be better off dead, or of hurting yourself in some way", "Not at all"),
        ("Becoming easily annoyed or irritable", "Not at all"),
        ("Difficulty falling asleep", "Severe"),
        (
            "Sertraline (Zoloft)",
            "100 mg a day for 12 weeks; 10% better; during the current period of depression; "
            "not stopped for side effects",
        ),
        (
            "Duloxetine (Cymbalta)",
            "60 mg a day for 8 weeks; 20% better; during the current period of depression; "
            "not stopped for side effects",
        ),
        ("Cognitive behavioural therapy (CBT) for pain or mood", "Never tried"),
        ("Sleep treatment (for example CBT for insomnia)", "Doing it now"),
        ("Have you ever had, or do you have now, any of the following?", "None"),
        ("Are you taking any of these medicines now?", "None"),
    ]
    for question, answer in expected_rows:
        assert f"<dt>{question}</dt><dd>{answer}</dd>" in html, question
    assert "Send my answers" in html and 'action="/intake/review"' in html


@pytest.mark.parametrize("key", LATER_STEPS)
def test_changing_a_step_from_review_returns_to_review(patient: Patient, key: str) -> None:
    patient.answer_all()
    editing = page(patient.get(f"/intake/{key}?from=review"))
    assert editing.status == 200
    assert editing.hidden("return_to") == ["review"]
    assert editing.shown() == _expected_shown(DEFAULT_ANSWERS[key])
    response = patient.post(step_path(key), [*posted_pairs(CHANGED[key]), ("return_to", "review")])
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/review"
    assert page(patient.get(step_path(key))).shown() == _expected_shown(CHANGED[key])
    assert patient.get("/intake/review").status_code == 200


def test_review_shows_the_changed_answers(patient: Patient) -> None:
    patient.answer_all()
    patient.post("/intake/age", {"age": "52", "return_to": "review"})
    patient.post("/intake/history", {**CHANGED["history"], "return_to": "review"})
    html = patient.get("/intake/review").get_data(as_text=True)
    assert "<dt>How old are you?</dt><dd>52</dd>" in html
    assert "<dd>Glaucoma or raised pressure in the eye</dd>" in html


def test_an_error_while_changing_from_review_keeps_the_way_back_to_review(patient: Patient) -> None:
    patient.answer_all()
    response = patient.post(
        "/intake/pain", {"pain_duration_months": "lots", "pain_average": "6", "return_to": "review"}
    )
    assert response.status_code == 422
    assert page(response).hidden("return_to") == ["review"]
    fixed = patient.post("/intake/pain", [*posted_pairs(DEFAULT_ANSWERS["pain"]), ("return_to", "review")])
    assert fixed.headers["Location"] == "/intake/review"


def test_adding_a_medicine_while_changing_from_review_keeps_the_way_back_to_review(patient: Patient) -> None:
    patient.answer_all()
    pairs = [*posted_pairs(DEFAULT_ANSWERS["treatments"]), ("return_to", "review")]
    added = patient.post("/intake/treatments", pairs, action="add")
    assert added.status_code == 302
    editing = page(patient.get(added.headers["Location"]))
    assert editing.hidden("return_to") == ["review"]
    assert editing.has_id("medications-2-drug")
    response = patient.post("/intake/treatments", pairs)
    assert response.headers["Location"] == "/intake/review"


def test_back_while_changing_from_review_goes_to_the_previous_step(patient: Patient) -> None:
    patient.answer_all()
    response = patient.post(
        "/intake/sleep", [*posted_pairs(DEFAULT_ANSWERS["sleep"]), ("return_to", "review")], action="back"
    )
    assert response.headers["Location"] == "/intake/anxiety"


def test_changing_from_review_goes_on_to_a_step_left_incomplete(patient: Patient) -> None:
    patient.answer_all()
    # Leave the sleep step incomplete by going back from it, then change an earlier step from review.
    patient.post("/intake/sleep", {"isi_1": "2"}, action="back")
    response = patient.post("/intake/about", [*posted_pairs(DEFAULT_ANSWERS["about"]), ("return_to", "review")])
    assert response.headers["Location"] == "/intake/pain"
    assert patient.get("/intake/review").headers["Location"] == "/intake/sleep"


# --- Gating ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("answered_until", ["about", "pain", "mood", "history"])
def test_a_later_step_redirects_to_the_first_incomplete_one(patient: Patient, answered_until: str) -> None:
    patient.answer_all(until=answered_until)
    for key in STEP_ORDER[STEP_ORDER.index(answered_until) + 1 :]:
        response = patient.get(step_path(key))
        assert response.status_code == 302, key
        assert response.headers["Location"] == step_path(answered_until), key
    assert patient.get("/intake/review").headers["Location"] == step_path(answered_until)
    # The steps already answered, and the first incomplete one, can be opened.
    for key in STEP_ORDER[: STEP_ORDER.index(answered_until) + 1]:
        assert patient.get(step_path(key)).status_code == 200, key


def test_the_age_step_needs_consent_first(client: FlaskClient) -> None:
    patient = Patient(client)
    patient.get("/")
    assert client.get("/intake/age").headers["Location"] == "/"
    response = patient.post("/", {})  # consent not ticked
    assert response.status_code == 422
    assert client.get("/intake/age").headers["Location"] == "/"
    assert patient.answer("welcome").headers["Location"] == "/intake/age"
    assert client.get("/intake/age").status_code == 200


def test_an_incomplete_step_in_the_middle_blocks_the_later_ones(patient: Patient) -> None:
    patient.answer_all()
    patient.post("/intake/symptoms", {"fatigue": "1"}, action="back")
    for key in ("mood", "anxiety", "sleep", "treatments", "history"):
        assert patient.get(step_path(key)).headers["Location"] == "/intake/symptoms", key
    assert patient.get("/intake/review").headers["Location"] == "/intake/symptoms"
    submit = patient.submit()
    assert submit.headers["Location"] == "/intake/symptoms"


@pytest.mark.parametrize(
    "path", [*(step_path(key) for key in LATER_STEPS[1:]), "/intake/review", "/intake/done", "/intake/saved"]
)
def test_without_a_session_every_page_goes_to_the_welcome(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_without_consent_the_age_step_goes_to_the_welcome(client: FlaskClient) -> None:
    assert client.get("/intake/age").headers["Location"] == "/"


def test_posting_a_later_step_before_the_earlier_ones_stores_nothing(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    response = patient.answer("mood")
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/pain"
    assert "mood" not in only_draft(app).steps


# --- Medicine rows --------------------------------------------------------------------------------


def test_add_a_medicine_row_keeps_the_answers_and_shows_a_new_blank_row(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="treatments")
    response = patient.answer("treatments", action="add")
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/treatments#medications"
    shown = page(patient.get("/intake/treatments"))
    assert "<legend>Medicine 3</legend>" in shown.html
    assert shown.has_id("medications-2-drug")
    assert shown.shown() == _expected_shown(DEFAULT_ANSWERS["treatments"])
    # The blank row is ignored: the step is complete as it is.
    assert patient.answer("treatments").headers["Location"] == "/intake/history"


def test_remove_a_medicine_row(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="treatments")
    response = patient.answer("treatments", action="remove-0")
    assert response.headers["Location"] == "/intake/treatments#medications"
    shown = page(patient.get("/intake/treatments"))
    assert "<legend>Medicine 2</legend>" not in shown.html
    # The remaining row is shown, renumbered as the first.
    assert shown.shown()["medications-0-drug"] == ["duloxetine"]
    assert shown.shown()["medications-0-dose_mg_per_day"] == ["60"]
    assert "sertraline" not in shown.shown().get("medications-0-drug", [])
    assert all(not name.startswith("medications-0-") for name, _ in only_draft(app).steps["treatments"])
    assert 'value="remove-0"' in shown.html and 'value="remove-1"' not in shown.html


def test_the_first_visit_to_the_treatments_step_shows_one_blank_row(patient: Patient) -> None:
    patient.answer_all(until="treatments")
    shown = page(patient.get("/intake/treatments"))
    assert shown.html.count("<legend>Medicine ") == 1
    assert shown.has_id("medications-0-drug")
    assert 'value="add"' in shown.html


def test_no_medicines_at_all_is_a_complete_step(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="treatments")
    answers = {
        "graded_exercise": "never",
        "cbt": "never",
        "sleep_treatment": "never",
        "medications-0-drug": "",
        "medications-0-dose_mg_per_day": "",
        "medications-0-weeks": "",
        "medications-0-improvement_pct": "",
    }
    response = patient.post("/intake/treatments", answers)
    assert response.headers["Location"] == "/intake/history"
    patient.answer("history")
    patient.answer("contact")
    html = patient.get("/intake/review").get_data(as_text=True)
    assert "<dt>Medicines tried before</dt><dd>None</dd>" in html


def test_many_rows_can_be_added_up_to_the_limit(patient: Patient) -> None:
    patient.answer_all(until="treatments")
    pairs = posted_pairs(DEFAULT_ANSWERS["treatments"])
    for index in range(2, 30):
        pairs += [(f"medications-{index}-drug", "")]
    patient.post("/intake/treatments", pairs)
    shown = page(patient.get("/intake/treatments"))
    assert shown.html.count("<legend>Medicine ") == 30
    assert 'value="add"' not in shown.html  # no more rows offered


# --- The pages around the wizard ------------------------------------------------------------------


def test_the_draft_is_not_created_before_the_age_step(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="age")
    assert rows(app, Draft) == []
    patient.answer("age")
    assert len(rows(app, Draft)) == 1
