"""A patient walking the wizard through the Flask test client, with realistic default answers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from typing import Iterable
from typing import Mapping
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.db import new_session
from screening.models import Draft
from screening.patient.intake import contact_step

T = TypeVar("T")

Answers = Mapping[str, str | Iterable[str]]

#: A 46-year-old woman whose answers meet ACR 2016 fibromyalgia, with two failed antidepressant trials.
#: The answers (canonical document fields) of a patient whose pain meets the ACR 2016 criteria.
FIBROMYALGIA: dict[str, Any] = {
    "pain_areas": [
        "shoulder_girdle_left",
        "upper_arm_left",
        "shoulder_girdle_right",
        "lower_arm_right",
        "hip_left",
        "upper_leg_left",
        "hip_right",
        "neck",
        "upper_back",
        "lower_back",
    ],
    "pain_duration_months": 48,
    "sss": {
        "fatigue": 3,
        "unrefreshed": 2,
        "cognitive": 2,
        "headaches": True,
        "lower_abdominal": False,
        "depression": True,
    },
}

DEFAULT_ANSWERS: dict[str, dict[str, str | list[str]]] = {
    "welcome": {"consent": "y"},
    "age": {"age": "46"},
    "about": {
        "sex_at_birth": "female",
        "pregnancy": "no",
        "breastfeeding": "no",
        "diagnoses": ["fibromyalgia", "depression"],
    },
    "pain": {
        "pain_areas": list(FIBROMYALGIA["pain_areas"]),
        "pain_duration_months": "48",
        "pain_average": "6",
    },
    "symptoms": {
        "fatigue": "3",
        "unrefreshed": "2",
        "cognitive": "2",
        "headaches": "1",
        "lower_abdominal": "0",
        "depression": "1",
    },
    "mood": {f"phq9_{i}": v for i, v in enumerate("222212220", start=1)},
    "anxiety": {f"gad7_{i}": v for i, v in enumerate("2112101", start=1)},
    "sleep": {f"isi_{i}": v for i, v in enumerate("3222313", start=1)},
    "treatments": {
        "medications-0-drug": "sertraline",
        "medications-0-dose_mg_per_day": "100",
        "medications-0-weeks": "12",
        "medications-0-improvement_pct": "10",
        "medications-0-current_episode": "yes",
        "medications-0-stopped_early": "no",
        "medications-1-drug": "duloxetine",
        "medications-1-dose_mg_per_day": "60",
        "medications-1-weeks": "8",
        "medications-1-improvement_pct": "20",
        "medications-1-current_episode": "yes",
        "medications-1-stopped_early": "no",
        "graded_exercise": "tried",
        "cbt": "never",
        "sleep_treatment": "current",
    },
    "history": {"medical_history_none": "y", "current_medications_none": "y"},
    "contact": {"contact_choice": "decline"},
}
#: The contact step of a patient who may be contacted (``DEFAULT_ANSWERS`` declines).
CONTACT_DETAILS: dict[str, str] = {
    "contact_choice": "contact",
    "preferred_name": "Jordan",
    "email": "jordan.rivers@example.org",
    "phone": "(212) 555-0187",
    "preferred_method": "either",
    "preferred_time": "morning",
    "state": "NY",
    "consent": "y",
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

    def post(
        self, path: str, data: Answers | list[tuple[str, str]], *, action: str = "next", csrf: bool = True
    ) -> TestResponse:
        """POST answers to a page, with the CSRF token and the button pressed."""
        pairs = list(data.items()) if isinstance(data, Mapping) else list(data)
        flat = [(k, v) for k, vs in pairs for v in ([vs] if isinstance(vs, str) else vs)]
        if csrf:
            flat.append(("csrf_token", self.token()))
        flat.append(("action", action))
        return self.client.post(path, data=_multidict(flat))

    def answer(
        self, key: str, overrides: Answers | None = None, *, action: str = "next", drop: Iterable[str] = ()
    ) -> TestResponse:
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

    def resume(self, token: str) -> TestResponse:
        """Open a resume link: it keeps the token and moves on to /resume, which opens the form or asks first."""
        kept = self.client.get(f"/resume/{token}")
        assert kept.status_code == 302 and kept.headers["Location"] == "/resume", kept.status_code
        return self.get("/resume")

    def submit(self) -> TestResponse:
        """Press "Send my answers" on the review page."""
        return self.post("/intake/review", {}, action="submit")


def _multidict(pairs: list[tuple[str, str]]) -> object:
    """Return pairs as a MultiDict the test client posts as a form."""
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


# --- Reading pages and the database -------------------------------------------------------------

#: Every step of the wizard with its "Step N of 12" number; the review page is the last.
STEP_NUMBERS = {key: number for number, key in enumerate(STEP_ORDER, start=1)}
TOTAL_STEPS = len(STEP_ORDER) + 1
#: A resume link as the pages show it.
RESUME_LINK = re.compile(r"/resume/([A-Za-z0-9_-]+)")
FOOTER_NOTICE = "not monitored in real time"
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _PageParser(HTMLParser):
    """Collect what a test needs from a page: element texts by id, form controls, summary links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, list[str]] = {}
        self.attributes: dict[str, dict[str, str | None]] = {}
        self.controls: list[dict[str, str | None]] = []
        self.summary_links: list[tuple[str, str]] = []
        self._open: list[tuple[str, str | None, bool]] = []  # (tag, id, is the error summary)
        self._select: str | None = None
        self._option: dict[str, str | None] | None = None
        self._link: list[str] | None = None

    def _in_summary(self) -> bool:
        return any(summary for _, _, summary in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.attributes.setdefault(attributes["id"] or "", attributes)
        if tag == "input":
            self.controls.append(attributes)
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select is not None:
            self._option = {**attributes, "name": self._select}
        elif tag == "a" and self._in_summary():
            self._link = [attributes.get("href") or "", ""]
        if tag in _VOID:
            return
        element_id = attributes.get("id")
        if element_id is not None:
            self.texts.setdefault(element_id, [])
        summary = "error-summary" in (attributes.get("class") or "").split()
        self._open.append((tag, element_id, summary))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "option" and self._option is not None:
            if "selected" in self._option:
                self.controls.append({**self._option, "type": "option"})
            self._option = None
        elif tag == "a" and self._link is not None:
            self.summary_links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position][0] == tag:
                del self._open[position:]
                break

    def handle_data(self, data: str) -> None:
        for _, element_id, _ in self._open:
            if element_id is not None:
                self.texts[element_id].append(data)
        if self._link is not None:
            self._link[1] += data


class Page:
    """A rendered page, read the way a test needs it."""

    def __init__(self, response: TestResponse) -> None:
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        parser = _PageParser()
        parser.feed(self.html)
        parser.close()
        self._parser = parser

    def text_of(self, element_id: str) -> str | None:
        """Return the whitespace-normalized text of the element with ``element_id``, None if absent."""
        parts = self._parser.texts.get(element_id)
        return None if parts is None else " ".join("".join(parts).split())

    def attributes_of(self, element_id: str) -> dict[str, str | None]:
        """Return the attributes of the first element with ``element_id``."""
        return dict(self._parser.attributes[element_id])

    def described_by(self, element_id: str) -> list[str]:
        """Return the ids the element's aria-describedby names."""
        return (self.attributes_of(element_id).get("aria-describedby") or "").split()

    def has_id(self, element_id: str) -> bool:
        """Return True when an element on the page has this id."""
        return element_id in self._parser.texts or any(c.get("id") == element_id for c in self._parser.controls)

    def field_errors(self) -> dict[str, str]:
        """Return the messages shown beside fields (``<field id>-error``), by field id."""
        errors = {}
        for element_id in self._parser.texts:
            if element_id.endswith("-error") and element_id != "error-summary-title":
                message = self.text_of(element_id) or ""
                errors[element_id.removesuffix("-error")] = message.removeprefix("Error:").strip()
        return errors

    @property
    def summary_links(self) -> list[tuple[str, str]]:
        """Return (href, text) of every link in the error summary at the top."""
        return list(self._parser.summary_links)

    def shown(self) -> dict[str, list[str]]:
        """Return the answers the page's form shows: filled inputs, ticked boxes, chosen options."""
        shown: dict[str, list[str]] = {}
        for control in self._parser.controls:
            name, kind = control.get("name"), (control.get("type") or "text")
            if not name or kind in {"hidden", "submit", "button"}:
                continue
            if kind in {"radio", "checkbox"}:
                if "checked" not in control:
                    continue
            elif not control.get("value"):
                continue
            shown.setdefault(name, []).append(control.get("value") or "")
        return shown

    def hidden(self, name: str) -> list[str]:
        """Return the values of the hidden inputs called ``name``."""
        return [
            c.get("value") or "" for c in self._parser.controls if c.get("type") == "hidden" and c.get("name") == name
        ]

    def resume_token(self) -> str | None:
        """Return the token of the resume link shown on the page, if any."""
        found = RESUME_LINK.search(self.html)
        return found.group(1) if found else None


def page(response: TestResponse) -> Page:
    """Return ``response`` read as a page."""
    return Page(response)


def posted_pairs(answers: Answers) -> list[tuple[str, str]]:
    """Return answers as the (name, value) pairs a browser posts."""
    return [(k, v) for k, vs in answers.items() for v in ([vs] if isinstance(vs, str) else vs)]


def rows(app: Flask, model: type[T]) -> list[T]:
    """Return every row of ``model``'s table, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(model).order_by(model.id)))  # type: ignore[attr-defined]


def only_draft(app: Flask) -> Draft:
    """Return the one draft in the database."""
    drafts = rows(app, Draft)
    assert len(drafts) == 1, drafts
    return drafts[0]


def saved_steps(app: Flask) -> dict[str, list[list[str]]]:
    """Return every step the one draft keeps, the contact step decrypted (it is never in ``steps`` in clear)."""
    return contact_step.saved_steps(only_draft(app), app.config)
