"""Every page of the wizard is byte for byte the page it was: markup, labels, ARIA, what is ticked, every error.

The pages are compared with snapshots in ``tests/snapshots/step_pages/``, taken from the pages as they were
rendered before the wizard's rendering was made cheaper; only the CSRF token and the resume link's token
(random per session) are replaced. A change to a page that is meant must rewrite its snapshot on purpose:
``SCREENING_WRITE_SNAPSHOTS=1 .venv/bin/pytest tests/test_step_pages_html.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import pytest
from flask.testing import FlaskClient

from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Answers
from .patient import Patient
from .patient import step_path

SNAPSHOTS = Path(__file__).parent / "snapshots" / "step_pages"
WRITE = os.environ.get("SCREENING_WRITE_SNAPSHOTS") == "1"
CSRF_VALUE = re.compile(r'(name="csrf_token" value=")[^"]+(")')
RESUME_TOKEN = re.compile(r"/resume/[A-Za-z0-9_-]+")


def _every_value(answers: Answers, value: str) -> dict[str, str | list[str]]:
    """Return ``answers`` with every posted value replaced by ``value``."""
    return {name: value if isinstance(given, str) else [value] for name, given in answers.items()}


def _without_first(answers: Answers) -> dict[str, str | list[str]]:
    """Return ``answers`` without their first question, the rest as a patient gave them."""
    return dict(list(answers.items())[1:])


#: What is posted to a step to show it with errors, by case name.
POSTS: dict[str, Callable[[Answers], Answers]] = {
    "post-empty": lambda answers: {},
    "post-unreadable": lambda answers: _every_value(answers, "x9"),
    "post-not-offered": lambda answers: _every_value(answers, "9"),
    "post-one-missing": _without_first,
}
#: The cases a step accepts (a ticked box is ticked whatever its value; 9 years old stops the intake; the pain
#: areas may be left empty): they show no errors, so they are not error pages.
NOT_ERRORS = {
    ("welcome", "post-unreadable"),
    ("welcome", "post-not-offered"),
    ("age", "post-not-offered"),
    ("pain", "post-one-missing"),
    ("history", "post-unreadable"),
    ("history", "post-not-offered"),
}
ERROR_CASES = [(key, case) for key in STEP_ORDER for case in POSTS if (key, case) not in NOT_ERRORS]


def _normalized(html: str) -> str:
    """Return a page with the tokens that are random per session replaced."""
    return RESUME_TOKEN.sub("/resume/TOKEN", CSRF_VALUE.sub(r"\1CSRF\2", html))


def _compare(name: str, html: str) -> None:
    """Assert the page equals its snapshot (or write the snapshot when asked to)."""
    snapshot = SNAPSHOTS / f"{name}.html"
    if WRITE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(_normalized(html), encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot.name}: write it with SCREENING_WRITE_SNAPSHOTS=1"
    expected = snapshot.read_text(encoding="utf-8")
    assert _normalized(html) == expected, f"{name} differs from its snapshot"


def _reach(patient: Patient, key: str) -> None:
    """Answer every step before ``key`` (none for the welcome page, whose GET starts the session)."""
    patient.answer_all(until=key)


@pytest.mark.parametrize("key", STEP_ORDER)
def test_a_step_page_shown_first_is_unchanged(patient: Patient, key: str) -> None:
    _reach(patient, key)
    response = patient.get(step_path(key))
    assert response.status_code == 200
    _compare(f"{key}-get-empty", response.get_data(as_text=True))


@pytest.mark.parametrize("key", STEP_ORDER)
def test_a_step_page_with_the_saved_answers_is_unchanged(patient: Patient, key: str) -> None:
    patient.answer_all()
    response = patient.get(step_path(key) + ("" if key == "welcome" else "?from=review"))
    assert response.status_code == 200
    _compare(f"{key}-get-saved", response.get_data(as_text=True))


@pytest.mark.parametrize(("key", "case"), ERROR_CASES)
def test_a_step_page_showing_errors_is_unchanged(patient: Patient, key: str, case: str) -> None:
    _reach(patient, key)
    response = patient.post(step_path(key), POSTS[case](DEFAULT_ANSWERS[key]))
    assert response.status_code == 422, response.status_code
    _compare(f"{key}-{case}", response.get_data(as_text=True))


def test_the_mood_page_with_crisis_resources_and_errors_is_unchanged(patient: Patient) -> None:
    _reach(patient, "mood")
    answers = {**_without_first(DEFAULT_ANSWERS["mood"]), "phq9_9": "2"}
    response = patient.post(step_path("mood"), answers)
    assert response.status_code == 422
    _compare("mood-post-crisis", response.get_data(as_text=True))


def test_a_medicine_row_with_errors_is_unchanged(patient: Patient) -> None:
    _reach(patient, "treatments")
    answers = {**DEFAULT_ANSWERS["treatments"], "medications-1-weeks": "", "medications-1-current_episode": "maybe"}
    response = patient.post(step_path("treatments"), answers)
    assert response.status_code == 422
    _compare("treatments-post-row-errors", response.get_data(as_text=True))


def test_the_review_page_is_unchanged(patient: Patient, client: FlaskClient) -> None:
    patient.answer_all()
    response = patient.get("/intake/review")
    assert response.status_code == 200
    _compare("review-get", response.get_data(as_text=True))
