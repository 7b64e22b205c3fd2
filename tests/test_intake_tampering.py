"""Tampered posts, security headers, cookies, and keeping answers and tokens out of URLs and logs."""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

from screening.db import engine_for
from screening.db import new_session
from screening.patient.intake import service
from screening.models import Draft
from screening.models import Submission
from screening.security import RedactTokens
from screening.security import redact

from .conftest import make_app
from .patient import DEFAULT_ANSWERS
from .patient import STEP_ORDER
from .patient import Patient
from .patient import only_draft
from .patient import page
from .patient import posted_pairs
from .patient import rows
from .patient import saved_steps
from .patient import step_path

CSRF_MESSAGE = "This form has expired or was not sent from this site, so nothing was changed."
#: Answer values of the default patient distinctive enough to search for in URLs and logs.
DISTINCTIVE_ANSWERS = (
    "sertraline",
    "duloxetine",
    "fibromyalgia",
    "shoulder_girdle_left",
    "upper_arm_left",
    "lower_back",
    "female",
    "graded_exercise",
    "sleep_treatment",
    "medical_history_none",
    "phq9_",
    "gad7_",
    "isi_",
)
#: Values a tampered post may carry in any field.
WEIRD_VALUES = (
    "",
    " ",
    "x",
    "-1",
    "0",
    "4",
    "11",
    "1e309",
    "NaN",
    "sNaN",
    "-Infinity",
    "²",
    "١",
    "０",
    "99999999999999999999999999",
    "1" * 3000,
    "\x00",
    "<script>alert(1)</script>",
    "🙂",
    "true",
    "None",
)


def _steps_after(patient: Patient, key: str) -> None:
    """Answer every step, so that the draft holds them all, then stand on ``key``."""
    patient.answer_all()
    patient.get(step_path(key))


def _draft_steps(app: Flask) -> dict[str, list[list[str]]]:
    return saved_steps(app)


def _under_18(value: str) -> bool:
    """Return True when ``value`` is read as a whole number from 1 to 17."""
    try:
        return 1 <= int(value) < 18
    except ValueError:
        return False


def _fields_of(key: str) -> list[str]:
    return list(dict.fromkeys(name for name, _ in posted_pairs(DEFAULT_ANSWERS[key])))


# --- CSRF -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["about", "pain", "mood", "treatments", "history"])
def test_a_post_without_csrf_token_changes_nothing(app: Flask, patient: Patient, key: str) -> None:
    patient.answer_all()
    before = _draft_steps(app)
    response = patient.post(step_path(key), {"age": "17", "sex_at_birth": "male", "phq9_9": "3"}, csrf=False)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please send the form again" in html
    assert CSRF_MESSAGE in html
    assert "the answers you saved earlier are kept" in html
    assert _draft_steps(app) == before
    assert only_draft(app).safety_flagged_at is None


@pytest.mark.parametrize("token", ["", "bogus", "IjBm.awUq.41gU"])
def test_a_post_with_a_wrong_csrf_token_changes_nothing(app: Flask, patient: Patient, token: str) -> None:
    patient.answer_all(until="pain")
    before = _draft_steps(app)
    response = patient.client.post("/intake/pain", data={"csrf_token": token, "pain_average": "3", "action": "next"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert _draft_steps(app) == before


def test_a_csrf_token_from_another_session_is_refused(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    stranger = Patient(app.test_client())
    stranger.get("/")
    before = _draft_steps(app)
    response = patient.client.post(
        "/intake/pain",
        data=MultiDict(
            [
                *posted_pairs(DEFAULT_ANSWERS["pain"]),
                ("csrf_token", stranger.token()),
                ("action", "next"),
            ]
        ),
    )
    assert response.status_code == 400
    assert _draft_steps(app) == before


def test_consent_and_age_need_the_csrf_token(app: Flask, patient: Patient) -> None:
    patient.get("/")
    assert patient.post("/", DEFAULT_ANSWERS["welcome"], csrf=False).status_code == 400
    assert patient.get("/intake/age").headers["Location"] == "/"
    patient.answer("welcome")
    assert patient.post("/intake/age", DEFAULT_ANSWERS["age"], csrf=False).status_code == 400
    assert rows(app, Draft) == []


def test_submitting_without_csrf_token_stores_nothing(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    response = patient.post("/intake/review", {}, action="submit", csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert rows(app, Submission) == []
    assert set(_draft_steps(app)) == set(STEP_ORDER)
    assert patient.submit().headers["Location"] == "/intake/done"


# --- Unknown buttons, oversized bodies, unknown addresses -------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "delete",
        "submit",
        "",
        "remove",
        "remove-",
        "remove-x",
        "remove-²",
        "remove--1",
        "next-1",
        "add-1",
        "NEXT",
        "save now",
    ],
)
def test_an_unknown_action_gives_400_and_changes_nothing(app: Flask, patient: Patient, action: str) -> None:
    patient.answer_all()
    before = _draft_steps(app)
    response = patient.post("/intake/treatments", {"graded_exercise": "never"}, action=action)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The form could not be read" in html
    assert "the answers you saved are kept" in html
    assert _draft_steps(app) == before


def test_an_unknown_action_on_the_welcome_page_gives_400(patient: Patient) -> None:
    patient.get("/")
    assert patient.post("/", DEFAULT_ANSWERS["welcome"], action="start-over").status_code == 400
    assert patient.get("/intake/age").headers["Location"] == "/"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_an_oversized_body_gives_a_413_page_and_changes_nothing(
    app: Flask, patient: Patient, content_type: str
) -> None:
    patient.answer_all(until="pain")
    before = _draft_steps(app)
    limit = app.config["MAX_CONTENT_LENGTH"]
    data = MultiDict([("csrf_token", patient.token()), ("pain_duration_months", "9" * (limit + 1)), ("action", "next")])
    response = patient.client.post("/intake/pain", data=data, content_type=content_type)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "larger than this form accepts" in html
    assert "the answers you saved earlier are kept" in html
    assert "not monitored in real time" in html
    assert _draft_steps(app) == before


def test_too_many_form_parts_gives_a_413_page(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    before = _draft_steps(app)
    parts = [("csrf_token", patient.token()), ("action", "next")] + [
        (f"part{i}", "1") for i in range(app.config["MAX_FORM_PARTS"] + 1)
    ]
    response = patient.client.post("/intake/pain", data=MultiDict(parts), content_type="multipart/form-data")
    assert response.status_code == 413
    assert _draft_steps(app) == before


def test_a_body_that_is_not_a_form_gives_400(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    before = _draft_steps(app)
    response = patient.client.post(
        "/intake/pain", data=json.dumps({"pain_average": 3}), content_type="application/json"
    )
    assert response.status_code == 400
    assert _draft_steps(app) == before


@pytest.mark.parametrize(
    "path", ["/intake/nope", "/intake/welcome", "/intake/PAIN", "/intake/review/x", "/intake/", "/admin"]
)
def test_an_unknown_step_gives_a_404_page(patient: Patient, path: str) -> None:
    patient.answer_all(until="pain")
    response = patient.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "There is no page at this address." in html
    assert "not monitored in real time" in html
    posted = patient.post(path, {"pain_average": "3"})
    assert posted.status_code in (404, 405)
    assert "not monitored in real time" in posted.get_data(as_text=True)


def test_the_wrong_method_gives_a_405_page(patient: Patient) -> None:
    patient.get("/")
    response = patient.post("/adults-only", {})
    assert response.status_code == 405
    assert "Please use the buttons on the form." in response.get_data(as_text=True)


@pytest.mark.parametrize("key", ["about", "pain", "mood", "history"])
def test_posting_a_step_with_no_intake_session_goes_to_the_welcome(app: Flask, client: FlaskClient, key: str) -> None:
    patient = Patient(client)
    patient.get("/")  # only a CSRF token in the session: no consent, no draft
    response = patient.answer(key)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert rows(app, Draft) == []
    assert patient.post("/intake/review", {}, action="submit").headers["Location"] == "/"
    assert rows(app, Submission) == []


def test_a_forged_session_cookie_is_a_new_visitor(app: Flask, client: FlaskClient) -> None:
    patient = Patient(client)
    patient.answer_all(until="pain")
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "eyJkcmFmdF90b2tlbiI6ImFiYyJ9.forged.signature")
    assert client.get("/intake/pain").headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert len(rows(app, Draft)) == 1


def test_a_session_whose_draft_was_deleted_gets_a_clear_404_then_a_fresh_start(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="pain")
    with new_session(app) as session:
        session.execute(sa.delete(Draft))
        session.commit()
    response = patient.get("/intake/pain")
    assert response.status_code == 404
    assert "We could not find a saved form" in response.get_data(as_text=True)
    assert patient.get("/").status_code == 200
    assert patient.get("/intake/pain").headers["Location"] == "/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "javascript:alert(1)", "../../etc", "done", ""]
)
def test_the_support_page_never_links_away(patient: Patient, target: str) -> None:
    patient.answer_all()
    html = patient.get(f"/intake/support?next={target}").get_data(as_text=True)
    assert 'href="/intake/review"' in html
    assert "evil.example" not in html and "javascript:" not in html


@pytest.mark.parametrize("token", ["%00", "..", "a" * 5000, "%F0%9F%99%82", "abc%2Fdef"])
def test_odd_resume_tokens_give_404_never_500(client: FlaskClient, token: str) -> None:
    response = client.get(f"/resume/{token}")
    assert response.status_code == 404


# --- Tampered values: never a 500, and the saved answers are kept -------------------------------------------


@pytest.mark.parametrize("key", STEP_ORDER[1:])
def test_tampered_values_in_every_field_never_give_a_500(app: Flask, patient: Patient, key: str) -> None:
    _steps_after(patient, key)
    earlier = {k: v for k, v in _draft_steps(app).items() if k != key}
    statuses = set()
    for field in _fields_of(key):
        for value in WEIRD_VALUES:
            if key == "age" and _under_18(value):
                continue  # a real under-18 age ends the intake (and clears the session): tested elsewhere
            response = patient.answer(key, {field: value})
            statuses.add(response.status_code)
            assert response.status_code in (302, 422), (field, value, response.status_code)
            assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    assert 422 in statuses
    steps = _draft_steps(app)
    assert {k: v for k, v in steps.items() if k != key} == earlier
    # The step can still be completed, and the whole form submitted.
    assert patient.answer(key).status_code == 302
    assert patient.submit().headers["Location"] == "/intake/done"


@pytest.mark.parametrize(
    "extra",
    [
        [("bogus", "1")],
        [("medications-0-bogus", "1")],
        [("medications--drug", "sertraline")],
        [("medications-²-drug", "sertraline")],
        [("medications-99999999999999999999-drug", "")],
        [("medications-x-drug", "sertraline")],
        [("age", "16")],
        [("csrf_token", "second")],
        [("return_to", "https://evil.example")],
        [("graded_exercise", "tried"), ("graded_exercise", "bogus")],
    ],
)
def test_unexpected_names_and_repeated_values_never_give_a_500(
    app: Flask, patient: Patient, extra: list[tuple[str, str]]
) -> None:
    patient.answer_all()
    for action in ("next", "add", "remove-0", "back", "save"):
        response = patient.post(
            "/intake/treatments", [*posted_pairs(DEFAULT_ANSWERS["treatments"]), *extra], action=action
        )
        assert response.status_code in (302, 400, 422), (action, response.status_code)
    assert set(_draft_steps(app)) == set(STEP_ORDER)
    assert only_draft(app).steps["age"] == [["age", "46"]]


def test_more_medicine_rows_than_allowed_are_not_a_500(app: Flask, patient: Patient) -> None:
    patient.answer_all(until="treatments")
    pairs = posted_pairs(DEFAULT_ANSWERS["treatments"])
    for index in range(2, 60):
        pairs += [
            (f"medications-{index}-drug", "sertraline"),
            (f"medications-{index}-dose_mg_per_day", "50"),
            (f"medications-{index}-weeks", "4"),
            (f"medications-{index}-improvement_pct", "0"),
            (f"medications-{index}-current_episode", "no"),
            (f"medications-{index}-stopped_early", "no"),
        ]
    assert patient.post("/intake/treatments", pairs, action="add").status_code == 302
    assert patient.post("/intake/treatments", pairs).status_code == 302
    patient.answer("history")
    patient.answer("contact")
    assert patient.submit().headers["Location"] == "/intake/done"
    assert len(rows(app, Submission)[0].answers["medication_trials"]) == 30


def test_junk_posted_before_the_draft_exists_is_not_kept_in_the_cookie(client: FlaskClient) -> None:
    patient = Patient(client)
    patient.get("/")
    junk = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))  # does not compress
    assert patient.post("/", {"consent": "y", "junk": junk}).status_code == 302
    response = patient.post("/intake/age", {"age": junk, "more": junk})
    assert response.status_code == 422
    cookie = client.get_cookie("screening_session")
    assert cookie is not None and len(cookie.value) < 4000
    # The real answers are kept all the same.
    assert page(patient.get("/")).shown() == {"consent": ["y"]}
    assert patient.answer("age").headers["Location"] == "/intake/about"


# --- Headers and cookies -----------------------------------------------------------------------------------------


def _pages_of_a_journey(app: Flask, patient: Patient) -> Iterator[tuple[str, object]]:
    """Yield (path, response) for every kind of page a patient meets, errors included."""
    yield "/", patient.get("/")
    patient.answer_all()
    for key in STEP_ORDER[1:]:
        yield step_path(key), patient.get(step_path(key))
    yield "/intake/review", patient.get("/intake/review")
    yield "/intake/saved", patient.get("/intake/saved")
    yield "/intake/support", patient.get("/intake/support?next=review")
    yield "422", patient.answer("history", drop=["medical_history_none"])
    yield "400", patient.post("/intake/pain", {}, csrf=False)
    yield "404", patient.get("/nowhere")
    yield "413", patient.client.post("/intake/pain", data={"x": "y" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    yield "redirect", patient.get("/intake/done")
    patient.submit()
    yield "/intake/done", patient.get("/intake/done")
    yield "/adults-only", patient.get("/adults-only")


def test_every_response_carries_the_security_headers(app: Flask, patient: Patient) -> None:
    for path, response in _pages_of_a_journey(app, patient):
        headers = response.headers  # type: ignore[attr-defined]
        policy = headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, path
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["frame-ancestors"] == "'none'", path
        assert directives["script-src"] == "'self'", path
        assert directives["default-src"] == "'self'", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] in {"same-origin", "no-referrer"}, path  # never to another site
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Cache-Control"] == "no-store", path


def test_pages_need_no_inline_script_or_style(app: Flask, patient: Patient) -> None:
    for path, response in _pages_of_a_journey(app, patient):
        html = response.get_data(as_text=True)  # type: ignore[attr-defined]
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, path
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=", html), path
        assert "<style" not in html, path


def test_static_files_are_served_with_the_security_headers(client: FlaskClient) -> None:
    response = client.get("/static/intake.js")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    response.close()


def test_the_session_cookie_is_httponly_and_samesite_lax(app: Flask) -> None:
    # Explicitly a developer's machine, whatever SCREENING_ENVIRONMENT says.
    development = make_app(app.config["DATABASE_URL"], ENVIRONMENT="development")
    try:
        cookie = development.test_client().get("/").headers["Set-Cookie"]
    finally:
        engine_for(development).dispose()
    assert cookie.startswith("screening_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http is allowed on a developer's machine only


def test_the_session_cookie_is_secure_in_production(app: Flask) -> None:
    production = make_app(app.config["DATABASE_URL"], ENVIRONMENT="production")
    try:
        cookie = production.test_client().get("/", base_url="https://screening.clinic.example").headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        engine_for(production).dispose()


# --- No answers in URLs or logs -----------------------------------------------------------------------------------


class RecordingPatient(Patient):
    """A patient that remembers every redirect it was sent."""

    def __init__(self, client: FlaskClient) -> None:
        super().__init__(client)
        self.locations: list[str] = []

    def _remember(self, response: object) -> None:
        location = response.headers.get("Location")  # type: ignore[attr-defined]
        if location:
            self.locations.append(location)

    def get(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        response = super().get(path, **kwargs)
        self._remember(response)
        return response

    def post(self, path, data, *, action="next", csrf=True):  # type: ignore[no-untyped-def]
        response = super().post(path, data, action=action, csrf=csrf)
        self._remember(response)
        return response


ALLOWED_QUERIES = {"", "from=review", *(f"next={key}" for key in (*STEP_ORDER, "review", "saved"))}


def test_no_answer_ever_appears_in_a_url(app: Flask, client: FlaskClient) -> None:
    patient = RecordingPatient(client)
    patient.answer_all({"mood": {"phq9_9": "2"}, "age": {"age": "58"}})
    patient.post("/intake/pain", {**DEFAULT_ANSWERS["pain"], "return_to": "review"})
    patient.post("/intake/treatments", {**DEFAULT_ANSWERS["treatments"], "return_to": "review"}, action="add")
    patient.answer("age", {"age": "not a number"})
    patient.post("/intake/age", {"age": "58", "return_to": "review"})
    assert patient.submit().headers["Location"] == "/intake/done"
    assert len(patient.locations) >= 12
    for location in patient.locations:
        parts = urlsplit(location)
        assert parts.query in ALLOWED_QUERIES, location
        for answer in (*DISTINCTIVE_ANSWERS, "58", "phq9", "=2"):
            assert answer not in location, location
    # Every form posts its answers in the body, never in the address.
    for path in [*(step_path(key) for key in STEP_ORDER)]:
        assert patient.get(path).status_code == 302  # submitted: the answers are no longer shown
    html = patient.get("/intake/done").get_data(as_text=True)
    assert 'method="get"' not in html.lower()


def test_every_form_posts(app: Flask, patient: Patient) -> None:
    for path, response in _pages_of_a_journey(app, patient):
        html = response.get_data(as_text=True)  # type: ignore[attr-defined]
        for form in re.findall(r"<form\b[^>]*>", html):
            assert 'method="post"' in form, (path, form)


def test_no_answers_or_tokens_reach_the_logs(
    app: Flask, patient: Patient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    caplog.set_level(logging.DEBUG, logger="screening")
    patient.answer_all(until="mood")
    patient.answer("mood", {"phq9_9": "1"})
    token = page(patient.get("/intake/anxiety")).resume_token()
    assert token is not None
    elsewhere = Patient(app.test_client())
    elsewhere.resume(token)
    for key in STEP_ORDER[STEP_ORDER.index("anxiety") :]:
        elsewhere.answer(key)
    elsewhere.answer("pain", {"pain_duration_months": "forty-eight"})
    elsewhere.post("/intake/pain", DEFAULT_ANSWERS["pain"], csrf=False)
    elsewhere.answer("pain", {"return_to": "review"})
    elsewhere.get(f"/resume/{token[:-3]}xyz")

    # An unexpected failure is logged: without the request's answers.
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("storage failed")

    monkeypatch.setattr(service, "submit_draft", broken)
    assert elsewhere.submit().status_code == 500
    monkeypatch.undo()
    assert elsewhere.submit().headers["Location"] == "/intake/done"
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert token not in logged
    for answer in (*DISTINCTIVE_ANSWERS, "forty-eight"):
        assert answer not in logged, answer


def test_request_logs_of_the_real_server_redact_resume_tokens(
    app: Flask, patient: Patient, caplog: pytest.LogCaptureFixture
) -> None:
    patient.answer_all(until="pain")
    token = page(patient.get("/intake/pain")).resume_token()
    assert token is not None
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        try:
            connection.request("GET", f"/resume/{token}")
            response = connection.getresponse()
            response.read()
            assert response.status == 302
        finally:
            connection.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/resume/[redacted]" in line and " 302 " in line for line in lines), lines
    assert token not in caplog.text


def test_redact_replaces_resume_tokens() -> None:
    token = "iuC7oSvvKYUohRp6zy4pfRrJj9BCRRV3Op-pEsVJtsk"
    assert redact(f"GET /resume/{token} HTTP/1.1") == "GET /resume/[redacted] HTTP/1.1"
    assert redact(f"/resume/{token}?utm=x") == "/resume/[redacted]?utm=x"
    assert redact(f"http://localhost/resume/{token}/ and /resume/{token[:10]}") == (
        "http://localhost/resume/[redacted]/ and /resume/[redacted]"
    )
    assert redact("GET /intake/pain HTTP/1.1") == "GET /intake/pain HTTP/1.1"


def test_the_filter_redacts_a_werkzeug_style_record() -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "%s" %s %s',
        ("127.0.0.1", "24/Nov/2026 06:00:00", f"GET /resume/{token} HTTP/1.1", "302", "-"),
        None,
    )
    assert RedactTokens().filter(record) is True
    message = record.getMessage()
    assert token not in message
    assert '"GET /resume/[redacted] HTTP/1.1" 302 -' in message
    direct = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, f"GET /resume/{token}", None, None)
    RedactTokens().filter(direct)
    assert direct.getMessage() == "GET /resume/[redacted]"


def test_the_filter_is_installed_on_the_werkzeug_logger(app: Flask) -> None:
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("werkzeug").filters)
