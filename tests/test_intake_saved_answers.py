"""A draft keeps each valid step's part of the answers document, so a request validates only the step posted.

The kept answers carry the form version they were validated under; a draft kept under another version (or
before answers were kept at all) is read from its posted pairs, validated again, as it always was.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from wtforms import Form

from screening.db import engine_for
from screening.db import new_session
from screening.models import Draft
from screening.models import Submission
from screening.patient.intake import steps

from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Patient
from .patient import only_draft
from .patient import rows
from .patient import step_path
from .test_intake_submit import EXPECTED_DOCUMENT


@pytest.fixture()
def validated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count, by form class, every form of a step that is validated."""
    counts: Counter[str] = Counter()
    step_forms = {step.form for step in steps.STEPS}
    original = Form.validate

    def counting(form: Form, extra_validators: object = None) -> bool:
        if type(form) in step_forms:
            counts[type(form).__name__] += 1
        return original(form, extra_validators)  # type: ignore[arg-type]

    monkeypatch.setattr(Form, "validate", counting)
    yield counts


def _set_kept(app: Flask, kept: dict[str, object] | None) -> None:
    """Replace the one draft's kept answers, as a draft saved by an older release would hold them."""
    with new_session(app) as session:
        session.execute(sa.update(Draft).values(answers=kept))
        session.commit()


def test_every_valid_step_keeps_its_answers_with_the_form_version(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    kept = only_draft(app).answers
    assert kept is not None and kept["form_version"] == steps.FORM_VERSION
    assert set(kept["steps"]) == set(STEP_ORDER)
    assert kept["steps"]["mood"] == {"phq9": EXPECTED_DOCUMENT["phq9"]}
    assert kept["steps"]["contact"] == {}  # the contact details are never kept in clear


def test_a_step_post_validates_only_the_step_posted(patient: Patient, validated: Counter[str]) -> None:
    patient.answer_all()
    patient.get("/intake/mood")
    validated.clear()
    response = patient.answer("mood")
    assert response.status_code == 302
    assert validated == Counter({"Phq9Form": 1})


@pytest.mark.parametrize("key", ["mood", "treatments", "contact"])
def test_a_step_page_and_the_review_page_validate_no_step(patient: Patient, validated: Counter[str], key: str) -> None:
    patient.answer_all()
    validated.clear()
    assert patient.get(step_path(key)).status_code == 200
    assert patient.get("/intake/review").status_code == 200
    assert validated == Counter()


def test_submitting_builds_the_document_from_the_kept_answers(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.get("/intake/review")
    patient.submit()
    assert rows(app, Submission)[0].answers == EXPECTED_DOCUMENT
    assert only_draft(app).answers is None  # the answers now live in the submission only


def test_a_step_saved_invalid_drops_its_kept_answers(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.answer("mood", drop=["phq9_3"], action="save")
    assert "mood" not in (only_draft(app).answers or {})["steps"]
    response = patient.submit()
    assert response.status_code == 302 and response.headers["Location"] == "/intake/mood"
    assert rows(app, Submission) == []


@pytest.mark.parametrize("kept", [None, {"form_version": "intake-2020.01-1", "steps": {"mood": {"phq9": [3] * 9}}}])
def test_a_draft_kept_under_another_form_version_is_validated_again(
    app: Flask, patient: Patient, kept: dict[str, object] | None
) -> None:
    patient.answer_all()
    _set_kept(app, kept)
    patient.get("/intake/review")
    patient.submit()
    assert rows(app, Submission)[0].answers == EXPECTED_DOCUMENT


def test_a_draft_kept_under_another_form_version_with_a_step_now_invalid_goes_to_that_step(
    app: Flask, patient: Patient
) -> None:
    patient.answer_all()
    with new_session(app) as session:
        draft = session.scalars(sa.select(Draft)).one()
        draft.steps = {**draft.steps, "sleep": [["isi_1", "3"]]}  # an older form's answers the new one refuses
        draft.answers = {"form_version": "intake-2020.01-1", "steps": dict((draft.answers or {})["steps"])}
        session.commit()
    assert patient.get("/intake/review").headers["Location"] == "/intake/sleep"
    response = patient.submit()
    assert response.headers["Location"] == "/intake/sleep"
    assert rows(app, Submission) == []


def test_a_draft_from_before_answers_were_kept_walks_on_as_before(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="anxiety")
    _set_kept(app, None)
    for key in STEP_ORDER[STEP_ORDER.index("anxiety") :]:
        assert patient.answer(key).status_code == 302, key
    patient.get("/intake/review")
    patient.submit()
    assert rows(app, Submission)[0].answers == EXPECTED_DOCUMENT


def test_the_pairs_shown_again_stay_the_pairs_posted(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    assert only_draft(app).steps["anxiety"] == [[name, value] for name, value in DEFAULT_ANSWERS["anxiety"].items()]


def _statements_of(app: Flask, request: Callable[[], object]) -> list[str]:
    """Return every SQL statement the app's engine runs while ``request`` is made."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine_for(app), "before_cursor_execute", seen)
    try:
        request()
    finally:
        sa.event.remove(engine_for(app), "before_cursor_execute", seen)
    return statements


def test_a_step_page_asks_the_database_once(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    statements = _statements_of(app, lambda: patient.get("/intake/mood"))
    assert len(statements) == 1, statements  # the draft, and whether it was submitted, in one query
    assert "submission" in statements[0]


def test_a_step_page_of_a_submitted_draft_still_goes_to_the_confirmation(patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    for path in ("/", "/intake/mood", "/intake/review"):
        assert patient.get(path).headers["Location"] == "/intake/done"
