"""Every validation error of every step: 422, the message beside the field, the summary, the other answers kept."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.models import Draft

from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Page
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import posted_pairs
from .patient import rows
from .patient import step_path

CHOOSE_ONE = "Choose one of the answers."
NOT_LISTED = "Choose one of the answers listed."
NOT_INTEGER = "Not a valid integer value."
NOT_DECIMAL = "Not a valid decimal value."
AGE_RANGE = "Enter an age between 1 and 120."
MONTHS_RANGE = "Enter a number of months between 0 and 1200."
DOSE_RANGE = "Enter a daily dose in mg between 0.1 and 10000."
WEEKS_RANGE = "Enter a number of weeks between 0 and 1000."
PERCENT_RANGE = "Enter a percentage between 0 and 100."
DRUG_NAME = "Type the medicine's name using letters, numbers, spaces or hyphens."
DRUG_NAME_MISSING = "Enter the name of the medicine."
DOSE_MISSING = "Enter the highest daily dose in mg."
PREGNANCY_REQUIRED = "Choose an answer, or 'Does not apply to me'."
ROW_BLANK = {
    "medications-0-drug": "",
    "medications-0-other_name": "",
    "medications-0-dose_mg_per_day": "",
    "medications-0-weeks": "",
    "medications-0-improvement_pct": "",
}
ROW_RADIOS = ("medications-0-current_episode", "medications-0-stopped_early")
#: The second default medicine row, dropped when a case is about the first row alone.
ROW_1 = tuple(name for name in DEFAULT_ANSWERS["treatments"] if name.startswith("medications-1-"))


class Case:
    """One invalid post to one step and the exact messages expected beside the fields."""

    def __init__(
        self,
        step: str,
        errors: dict[str, str],
        overrides: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        id: str = "",
    ) -> None:
        self.step = step
        self.errors = errors
        self.overrides = overrides or {}
        self.drop = drop
        self.id = id or f"{step}-{'-'.join(errors)}"

    def answers(self) -> dict[str, Any]:
        answers = {**DEFAULT_ANSWERS[self.step], **self.overrides}
        for name in self.drop:
            answers.pop(name, None)
        return answers


CASES = [
    # Welcome and consent.
    Case("welcome", {"consent": "Please tick the box to agree before you start."}, drop=("consent",)),
    # Age: missing, non-numeric, out of range, not whole.
    Case("age", {"age": "Enter your age in whole years, for example 42."}, drop=("age",), id="age-missing"),
    Case("age", {"age": "Enter your age in whole years, for example 42."}, {"age": ""}, id="age-empty"),
    Case("age", {"age": f"{NOT_INTEGER} {AGE_RANGE}"}, {"age": "forty"}, id="age-not-a-number"),
    Case("age", {"age": f"{NOT_INTEGER} {AGE_RANGE}"}, {"age": "46.5"}, id="age-not-whole"),
    Case("age", {"age": AGE_RANGE}, {"age": "0"}, id="age-zero"),
    Case("age", {"age": AGE_RANGE}, {"age": "-3"}, id="age-negative"),
    Case("age", {"age": AGE_RANGE}, {"age": "121"}, id="age-too-old"),
    Case("age", {"age": AGE_RANGE}, {"age": "9" * 400}, id="age-huge"),
    # About you.
    Case("about", {"sex_at_birth": CHOOSE_ONE}, drop=("sex_at_birth",), id="sex-missing"),
    Case("about", {"sex_at_birth": NOT_LISTED}, {"sex_at_birth": "robot"}, id="sex-unknown"),
    Case("about", {"pregnancy": PREGNANCY_REQUIRED}, drop=("pregnancy",), id="pregnancy-missing-female"),
    Case(
        "about",
        {"pregnancy": PREGNANCY_REQUIRED},
        {"sex_at_birth": "intersex"},
        drop=("pregnancy",),
        id="pregnancy-missing-intersex",
    ),
    Case(
        "about",
        {"pregnancy": PREGNANCY_REQUIRED},
        {"sex_at_birth": "undisclosed"},
        drop=("pregnancy",),
        id="pregnancy-missing-undisclosed",
    ),
    Case("about", {"pregnancy": NOT_LISTED}, {"pregnancy": "perhaps"}, id="pregnancy-unknown"),
    Case("about", {"breastfeeding": CHOOSE_ONE}, drop=("breastfeeding",), id="breastfeeding-missing"),
    Case("about", {"breastfeeding": NOT_LISTED}, {"breastfeeding": "sometimes"}, id="breastfeeding-unknown"),
    Case(
        "about",
        {"pregnancy": PREGNANCY_REQUIRED, "breastfeeding": CHOOSE_ONE},
        drop=("pregnancy", "breastfeeding"),
        id="both-missing-female",
    ),
    Case(
        "about",
        {"diagnoses": "gout is not one of the answers listed."},
        {"diagnoses": ["fibromyalgia", "gout"]},
        id="diagnosis-unknown",
    ),
    # Pain.
    Case(
        "pain",
        {"pain_duration_months": "Enter a number of months, for example 18."},
        drop=("pain_duration_months",),
        id="duration-missing",
    ),
    Case(
        "pain",
        {"pain_duration_months": f"{NOT_INTEGER} {MONTHS_RANGE}"},
        {"pain_duration_months": "four years"},
        id="duration-not-a-number",
    ),
    Case("pain", {"pain_duration_months": MONTHS_RANGE}, {"pain_duration_months": "1201"}, id="duration-too-long"),
    Case("pain", {"pain_duration_months": MONTHS_RANGE}, {"pain_duration_months": "-1"}, id="duration-negative"),
    Case("pain", {"pain_duration_months": MONTHS_RANGE}, {"pain_duration_months": "-" + "9" * 400}, id="duration-huge"),
    Case("pain", {"pain_average": CHOOSE_ONE}, drop=("pain_average",), id="average-missing"),
    Case("pain", {"pain_average": NOT_LISTED}, {"pain_average": "11"}, id="average-out-of-range"),
    Case("pain", {"pain_average": NOT_LISTED}, {"pain_average": "a lot"}, id="average-not-a-number"),
    Case(
        "pain",
        {"pain_areas": "tail is not one of the answers listed."},
        {"pain_areas": ["neck", "tail"]},
        id="area-unknown",
    ),
    # Symptom severity.
    Case("symptoms", {"fatigue": CHOOSE_ONE}, drop=("fatigue",), id="fatigue-missing"),
    Case("symptoms", {"cognitive": NOT_LISTED}, {"cognitive": "4"}, id="cognitive-out-of-range"),
    Case("symptoms", {"headaches": NOT_LISTED}, {"headaches": "2"}, id="headaches-out-of-range"),
    Case(
        "symptoms",
        {"depression": CHOOSE_ONE, "lower_abdominal": CHOOSE_ONE},
        drop=("depression", "lower_abdominal"),
        id="part-b-missing",
    ),
    # PHQ-9, GAD-7, ISI.
    Case(
        "mood",
        {f"phq9_{i}": CHOOSE_ONE for i in range(1, 10)},
        drop=tuple(f"phq9_{i}" for i in range(1, 10)),
        id="phq9-all-missing",
    ),
    Case("mood", {"phq9_4": CHOOSE_ONE}, drop=("phq9_4",), id="phq9-one-missing"),
    Case("mood", {"phq9_1": NOT_LISTED}, {"phq9_1": "4"}, id="phq9-out-of-range"),
    Case("mood", {"phq9_2": NOT_LISTED}, {"phq9_2": "often"}, id="phq9-not-a-number"),
    Case(
        "anxiety",
        {f"gad7_{i}": CHOOSE_ONE for i in range(1, 8)},
        drop=tuple(f"gad7_{i}" for i in range(1, 8)),
        id="gad7-all-missing",
    ),
    Case("anxiety", {"gad7_7": NOT_LISTED}, {"gad7_7": "-1"}, id="gad7-out-of-range"),
    Case(
        "sleep",
        {f"isi_{i}": CHOOSE_ONE for i in range(1, 8)},
        drop=tuple(f"isi_{i}" for i in range(1, 8)),
        id="isi-all-missing",
    ),
    Case("sleep", {"isi_4": NOT_LISTED}, {"isi_4": "5"}, id="isi-out-of-range"),
    # Prior treatments: partly filled rows, bad numbers, "other" medicine names, unknown choices.
    Case(
        "treatments",
        {
            "medications-0-dose_mg_per_day": "Enter the highest daily dose in mg.",
            "medications-0-weeks": "Enter how many weeks you took that dose.",
            "medications-0-improvement_pct": "Enter how much better you felt, from 0 to 100 percent.",
            "medications-0-current_episode": CHOOSE_ONE,
            "medications-0-stopped_early": CHOOSE_ONE,
        },
        {**ROW_BLANK, "medications-0-drug": "sertraline"},
        drop=(*ROW_RADIOS, *ROW_1),
        id="row-only-the-medicine",
    ),
    Case(
        "treatments",
        {"medications-0-drug": "Choose the medicine."},
        {"medications-0-drug": ""},
        id="row-without-medicine",
    ),
    Case(
        "treatments",
        {"medications-0-weeks": "Enter how many weeks you took that dose."},
        {"medications-0-weeks": ""},
        id="row-without-weeks",
    ),
    Case(
        "treatments",
        {"medications-1-stopped_early": CHOOSE_ONE},
        drop=("medications-1-stopped_early",),
        id="second-row-without-side-effects",
    ),
    Case(
        "treatments",
        {"medications-0-dose_mg_per_day": DOSE_RANGE},
        {"medications-0-dose_mg_per_day": "0"},
        id="dose-zero",
    ),
    Case(
        "treatments",
        {"medications-0-dose_mg_per_day": DOSE_RANGE},
        {"medications-0-dose_mg_per_day": "10001"},
        id="dose-too-high",
    ),
    Case(
        "treatments",
        {"medications-0-dose_mg_per_day": f"{NOT_DECIMAL} {DOSE_RANGE}"},
        {"medications-0-dose_mg_per_day": "100mg"},
        id="dose-not-a-number",
    ),
    Case(
        "treatments",
        {"medications-0-weeks": f"{NOT_INTEGER} {WEEKS_RANGE}"},
        {"medications-0-weeks": "6.5"},
        id="weeks-not-whole",
    ),
    Case("treatments", {"medications-0-weeks": WEEKS_RANGE}, {"medications-0-weeks": "1001"}, id="weeks-too-many"),
    Case(
        "treatments",
        {"medications-0-dose_mg_per_day": f"{NOT_DECIMAL} {DOSE_RANGE}"},
        {"medications-0-dose_mg_per_day": "sNaN"},
        id="dose-signaling-nan",
    ),
    Case(
        "treatments",
        {"medications-0-dose_mg_per_day": f"{NOT_DECIMAL} {DOSE_RANGE}"},
        {"medications-0-dose_mg_per_day": "Infinity"},
        id="dose-infinite",
    ),
    Case(
        "treatments",
        {"medications-0-improvement_pct": PERCENT_RANGE},
        {"medications-0-improvement_pct": "101"},
        id="improvement-too-high",
    ),
    Case(
        "treatments",
        {"medications-0-improvement_pct": PERCENT_RANGE},
        {"medications-0-improvement_pct": "-5"},
        id="improvement-negative",
    ),
    Case(
        "treatments",
        {"medications-0-drug": "Not a valid choice."},
        {"medications-0-drug": "aspirin"},
        id="drug-unknown",
    ),
    Case(
        "treatments",
        {"medications-0-current_episode": NOT_LISTED},
        {"medications-0-current_episode": "maybe"},
        id="current-episode-unknown",
    ),
    Case(
        "treatments",
        {"medications-0-other_name": DRUG_NAME_MISSING},
        {"medications-0-drug": "other"},
        id="other-without-name",
    ),
    Case(
        "treatments",
        {"medications-0-other_name": DRUG_NAME_MISSING},
        {"medications-0-drug": "other", "medications-0-other_name": "   "},
        id="other-blank-name",
    ),
    Case(
        "treatments",
        {"medications-0-other_name": DRUG_NAME},
        {"medications-0-drug": "other", "medications-0-other_name": "para$etamol"},
        id="other-bad-characters",
    ),
    Case(
        "treatments",
        {"medications-0-other_name": DRUG_NAME},
        {"medications-0-drug": "other", "medications-0-other_name": "-agomelatine"},
        id="other-leading-hyphen",
    ),
    Case(
        "treatments",
        {"medications-0-other_name": DRUG_NAME},
        {"medications-0-drug": "other", "medications-0-other_name": "a" * 61},
        id="other-too-long",
    ),
    Case("treatments", {"graded_exercise": CHOOSE_ONE}, drop=("graded_exercise",), id="therapy-missing"),
    Case("treatments", {"cbt": NOT_LISTED}, {"cbt": "sometimes"}, id="therapy-unknown"),
    # Medical history: some answers or "none", not both and not neither.
    Case(
        "history",
        {
            "medical_history": "Tick every answer that applies, or 'None of these apply to me'.",
            "current_medications": "Tick every answer that applies, or 'I am not taking any of these'.",
        },
        drop=("medical_history_none", "current_medications_none"),
        id="history-neither",
    ),
    Case(
        "history",
        {"medical_history": "You ticked some answers and also 'None of these apply to me': choose one or the other."},
        {"medical_history": ["glaucoma"]},
        id="history-both",
    ),
    Case(
        "history",
        {
            "current_medications": "You ticked some answers and also 'I am not taking any of these': choose one or the other."
        },
        {"current_medications": ["opioid", "benzodiazepine"]},
        id="medications-both",
    ),
    Case(
        "history",
        {"medical_history": "cancer is not one of the answers listed."},
        {"medical_history": ["cancer"]},
        drop=("medical_history_none",),
        id="history-unknown",
    ),
]


def _post_case(patient: Patient, case: Case) -> Page:
    patient.answer_all(until=case.step)
    return page(patient.post(step_path(case.step), case.answers()))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_validation_error_is_shown_beside_its_field_and_in_the_summary(patient: Patient, case: Case) -> None:
    shown = _post_case(patient, case)
    assert shown.status == 422, shown.html[:2000]
    # The message beside each field, and no other.
    assert shown.field_errors() == case.errors
    for field_id in case.errors:
        assert shown.has_id(field_id), f"the summary links to #{field_id}, which is not on the page"
        assert f"{field_id}-error" in shown.described_by(field_id), field_id
    # The summary at the top links to every field with its message.
    linked = {href for href, _ in shown.summary_links}
    assert linked == {f"#{field_id}" for field_id in case.errors}
    for field_id, message in case.errors.items():
        texts = [text for href, text in shown.summary_links if href == f"#{field_id}"]
        # A medicine row's message is headed by the row ("Medicine 2 (Duloxetine): "), then the field's label.
        parts = 2 if field_id.startswith("medications-") else 1
        assert " ".join(text.split(": ", parts)[parts] for text in texts) == message
    count = len(shown.summary_links)
    heading = "There is a problem with your answers" if count == 1 else f"There are {count} problems with your answers"
    assert heading in shown.html
    assert shown.html.index("error-summary") < shown.html.index("<h1>")
    assert "<title>Error: " in shown.html
    # Every other answer posted is shown again as it was.
    again = shown.shown()
    for name, value in posted_pairs(case.answers()):
        if name not in case.errors and value.strip():
            assert value in again.get(name, []), name


@pytest.mark.parametrize("case", [c for c in CASES if c.step not in ("welcome", "age")], ids=lambda case: case.id)
def test_an_invalid_step_keeps_its_answers_and_the_earlier_steps_but_blocks_the_next(
    app: Flask, patient: Patient, case: Case
) -> None:
    _post_case(patient, case)
    steps = only_draft(app).steps
    assert steps[case.step] == [list(pair) for pair in posted_pairs(case.answers())]
    for earlier in STEP_ORDER[: STEP_ORDER.index(case.step)]:
        assert steps[earlier] == [list(pair) for pair in posted_pairs(DEFAULT_ANSWERS[earlier])], earlier
    # The same answers are shown when the step is opened again.
    reopened = page(patient.get(step_path(case.step)))
    assert reopened.status == 200
    later = STEP_ORDER[STEP_ORDER.index(case.step) + 1] if case.step != "history" else None
    target = step_path(later) if later else "/intake/review"
    assert patient.get(target).headers["Location"] == step_path(case.step)


def test_an_invalid_age_stores_no_draft(app: Flask, patient: Patient) -> None:
    _post_case(patient, CASES[3])
    assert rows(app, Draft) == []


def test_fixing_the_errors_moves_on(patient: Patient) -> None:
    patient.answer_all(until="pain")
    assert patient.answer("pain", {"pain_duration_months": "x"}).status_code == 422
    response = patient.answer("pain")
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/symptoms"


def test_errors_are_tied_to_their_fields_for_assistive_technology(patient: Patient) -> None:
    patient.answer_all(until="about")
    html = patient.answer("about", {"sex_at_birth": "robot"}, drop=["diagnoses"]).get_data(as_text=True)
    # The radio group and each option point at the message.
    assert 'id="sex_at_birth"' in html
    assert 'aria-describedby="sex_at_birth-error"' in html
    assert 'aria-invalid="true"' in html


def test_a_male_patient_need_not_answer_pregnancy_or_breastfeeding(patient: Patient) -> None:
    patient.answer_all(until="about")
    response = patient.answer("about", {"sex_at_birth": "male"}, drop=["pregnancy", "breastfeeding"])
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake/pain"


def test_no_diagnoses_and_no_pain_areas_are_valid_answers(patient: Patient) -> None:
    patient.answer_all(until="about")
    assert patient.answer("about", drop=["diagnoses"]).headers["Location"] == "/intake/pain"
    assert patient.answer("pain", drop=["pain_areas"]).headers["Location"] == "/intake/symptoms"


@pytest.mark.parametrize("age", ["18", "120", " 46 "])
def test_boundary_ages_are_accepted(patient: Patient, age: str) -> None:
    patient.answer_all(until="age")
    assert patient.answer("age", {"age": age}).headers["Location"] == "/intake/about"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("medications-0-dose_mg_per_day", "0.1"),
        ("medications-0-dose_mg_per_day", "10000"),
        ("medications-0-weeks", "0"),
        ("medications-0-weeks", "1000"),
        ("medications-0-improvement_pct", "0"),
        ("medications-0-improvement_pct", "100"),
    ],
)
def test_boundary_medicine_numbers_are_accepted(patient: Patient, field: str, value: str) -> None:
    patient.answer_all(until="treatments")
    assert patient.answer("treatments", {field: value}).headers["Location"] == "/intake/history"


def test_the_welcome_error_keeps_the_patient_on_the_welcome_page(client: FlaskClient) -> None:
    patient = Patient(client)
    patient.get("/")
    response = patient.post("/", {})
    assert response.status_code == 422
    assert "Please tick the box to agree before you start." in response.get_data(as_text=True)
    assert client.get("/intake/age").headers["Location"] == "/"


def test_the_summary_names_the_medicine_row_each_error_is_about(patient: Patient) -> None:
    patient.answer_all(until="treatments")
    rows_posted = {
        "medications-2-drug": "other",
        "medications-2-other_name": "Agomelatine",
        "medications-2-dose_mg_per_day": "",
        "medications-2-weeks": "6",
        "medications-2-improvement_pct": "0",
        "medications-2-current_episode": "no",
        "medications-2-stopped_early": "no",
        "medications-3-drug": "",
        "medications-3-dose_mg_per_day": "20",
        "medications-3-weeks": "4",
        "medications-3-improvement_pct": "0",
        "medications-3-current_episode": "no",
        "medications-3-stopped_early": "no",
    }
    response = patient.answer(
        "treatments",
        {"medications-0-dose_mg_per_day": "", "medications-1-drug": "escitalopram", **rows_posted},
        drop=("medications-1-dose_mg_per_day",),
    )
    shown = page(response)
    assert shown.status == 422
    assert shown.summary_links == [
        ("#medications-0-dose_mg_per_day", f"Medicine 1 (Sertraline): Highest daily dose, in mg: {DOSE_MISSING}"),
        ("#medications-1-dose_mg_per_day", f"Medicine 2 (Escitalopram): Highest daily dose, in mg: {DOSE_MISSING}"),
        ("#medications-2-dose_mg_per_day", f"Medicine 3 (agomelatine): Highest daily dose, in mg: {DOSE_MISSING}"),
        ("#medications-3-drug", "Medicine 4: Medicine: Choose the medicine."),
    ]
    # The message beside each field is the field's own, without the row.
    assert shown.field_errors()["medications-1-dose_mg_per_day"] == DOSE_MISSING


def test_a_row_whose_typed_name_is_missing_or_invalid_is_named_by_its_number_alone(patient: Patient) -> None:
    patient.answer_all(until="treatments")
    response = patient.answer(
        "treatments",
        {"medications-0-drug": "other", "medications-1-drug": "other", "medications-1-other_name": "para$etamol"},
    )
    assert page(response).summary_links == [
        ("#medications-0-other_name", f"Medicine 1: Name of the other medicine: {DRUG_NAME_MISSING}"),
        ("#medications-1-other_name", f"Medicine 2: Name of the other medicine: {DRUG_NAME}"),
    ]
