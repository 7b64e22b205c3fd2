"""A patient walking the wizard through the Flask test client, with realistic default answers."""

from __future__ import annotations

import re
from typing import Iterable
from typing import Mapping

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

Answers = Mapping[str, str | Iterable[str]]

#: A 46-year-old woman whose answers meet ACR 2016 fibromyalgia, with two failed antidepressant trials.
DEFAULT_ANSWERS: dict[str, dict[str, str | list[str]]] = {
    "welcome": {"consent": "y"},
    "age": {"age": "46"},
    "about": {"sex_at_birth": "female", "pregnancy": "no", "breastfeeding": "no", "diagnoses": ["fibromyalgia", "depression"]},
    "pain": {
        "pain_areas": [
            "shoulder_girdle_left", "upper_arm_left", "shoulder_girdle_right", "lower_arm_right",
            "hip_left", "upper_leg_left", "hip_right", "neck", "upper_back", "lower_back",
        ],
        "pain_duration_months": "48",
        "pain_average": "6",
    },
    "symptoms": {"fatigue": "3", "unrefreshed": "2", "cognitive": "2", "headaches": "1", "lower_abdominal": "0", "depression": "1"},
    "mood": {f"phq9_{i}": v for i, v in enumerate("222212220", start=1)},
    "anxiety": {f"gad7_{i}": v for i, v in enumerate("2112101", start=1)},
    "sleep": {f"isi_{i}": v for i, v in enumerate("3222313", start=1)},
    "treatments": {
        "medications-0-drug": "sertraline", "medications-0-dose_mg_per_day": "100", "medications-0-weeks": "12",
        "medications-0-improvement_pct": "10", "medications-0-current_episode": "yes", "medications-0-stopped_early": "no",
        "medications-1-drug": "duloxetine", "medications-1-dose_mg_per_day": "60", "medications-1-weeks": "8",
        "medications-1-improvement_pct": "20", "medications-1-current_episode": "yes", "medications-1-stopped_early": "no",
        "graded_exercise": "tried", "cbt": "never", "sleep_treatment": "current",
    },
    "history": {"medical_history_none": "y", "current_medications_none": "y"},
}

STEP_ORDER = tuple(DEFAULT_ANSWERS)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def step_path(key: str) -> str:
    """Return the address of a step."""
    return "/" if key == "welcome" else f"/intake/{key}"


class Patient:
    """One browser session filling in the intake."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf_token: str | None = None

    def get(self, path: str, **kwargs: object) -> TestResponse:
        """GET a page and remember its CSRF token."""
        response = self.client.get(path, **kwargs)
        found = CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf_token = found.group(1)
        return response

    def token(self) -> str:
        """Return a valid CSRF token for this session."""
        if self.csrf_token is None:
            self.get("/")
        assert self.csrf_token is not None
        return self.csrf_token

    def post(self, path: str, data: Answers | list[tuple[str, str]], *, action: str = "next", csrf: bool = True) -> TestResponse:
        """POST answers to a page, with the CSRF token and the button pressed."""
        pairs = list(data.items()) if isinstance(data, Mapping) else list(data)
        flat = [(k, v) for k, vs in pairs for v in ([vs] if isinstance(vs, str) else vs)]
        if csrf:
            flat.append(("csrf_token", self.token()))
        flat.append(("action", action))
        return self.client.post(path, data=_multidict(flat))

    def answer(self, key: str, overrides: Answers | None = None, *, action: str = "next", drop: Iterable[str] = ()) -> TestResponse:
        """Answer one step with the defaults, changed by ``overrides`` and without ``drop``."""
        answers = {**DEFAULT_ANSWERS[key], **(overrides or {})}
        for name in drop:
            answers.pop(name, None)
        return self.post(step_path(key), answers, action=action)

    def answer_all(self, overrides: Mapping[str, Answers] | None = None, *, until: str | None = None) -> TestResponse:
        """Answer every step in order, stopping before ``until``; return the last response."""
        response = self.get("/")
        for key in STEP_ORDER:
            if key == until:
                break
            response = self.answer(key, (overrides or {}).get(key))
            assert response.status_code == 302, (key, response.status_code, response.get_data(as_text=True)[:2000])
        return response

    def submit(self) -> TestResponse:
        """Press "Send my answers" on the review page."""
        return self.post("/intake/review", {}, action="submit")


def _multidict(pairs: list[tuple[str, str]]) -> object:
    """Return pairs as a MultiDict the test client posts as a form."""
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)
