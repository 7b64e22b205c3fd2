"""The session cookie is written only when what it holds changes, not on every page a patient or clinic user opens.

Both idle timeouts note when the browser was last seen. That note moves in steps of a minute, so a request within
a minute of the last one leaves the cookie as it was (the browser keeps it; nothing is signed again), and the
timeouts still end an idle session on time.
"""

from __future__ import annotations

from werkzeug.test import TestResponse

from screening.auth import sessions as auth_sessions

from .accounts import Auth
from .patient import Patient
from .conftest import Clock


def writes_cookie(response: TestResponse) -> bool:
    """Tell whether ``response`` sets the session cookie."""
    return any(value.startswith("screening_session=") for value in response.headers.getlist("Set-Cookie"))


def test_a_patient_page_opened_again_within_a_minute_leaves_the_cookie_alone(patient: Patient, clock: Clock) -> None:
    patient.answer_all(until="pain")
    assert not writes_cookie(patient.get("/intake/pain"))
    clock.advance(seconds=59)
    assert not writes_cookie(patient.get("/intake/about"))
    clock.advance(seconds=2)
    assert writes_cookie(patient.get("/intake/about"))  # a minute on: the note of when it was last seen moves
    assert not writes_cookie(patient.get("/intake/pain"))


def test_a_patient_answer_still_writes_the_cookie_when_it_changes_what_it_holds(patient: Patient) -> None:
    assert writes_cookie(patient.answer("welcome"))  # consent is kept in the cookie before the draft exists
    assert writes_cookie(patient.answer("age"))  # the draft is made: the cookie holds its token now


def test_a_patient_seen_every_few_seconds_is_never_timed_out(patient: Patient, clock: Clock) -> None:
    patient.answer_all(until="pain")
    for _ in range(40):  # an hour and more of steady use, past the 30 minutes of idle time
        clock.advance(seconds=100)
        assert patient.get("/intake/pain").status_code == 200


def test_a_clinic_page_opened_again_within_a_minute_leaves_the_cookie_alone(auth: Auth, clock: Clock) -> None:
    auth.login_as("admin")
    client = auth.client
    assert writes_cookie(client.get("/admin/users"))  # the first page after sign-in holds a new form token
    assert not writes_cookie(client.get("/admin/users"))
    clock.advance(seconds=30)
    assert not writes_cookie(client.get("/admin/audit"))
    clock.advance(seconds=31)
    assert writes_cookie(client.get("/admin/users"))


def test_a_clinic_user_seen_every_few_minutes_stays_signed_in(auth: Auth, clock: Clock) -> None:
    auth.login_as("admin")
    for _ in range(12):  # an hour of use, a page every five minutes, past the 15 minutes of idle time
        clock.advance(minutes=5)
        assert auth.client.get("/admin/users").status_code == 200


def test_a_clinic_session_still_times_out_when_idle(auth: Auth, clock: Clock) -> None:
    auth.login_as("admin")
    clock.advance(seconds=50)
    auth.client.get("/admin/users")  # within the minute: the note stays at sign-in
    clock.advance(minutes=15, seconds=1)
    response = auth.client.get("/admin/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert auth_sessions.SEEN_STEP_SECONDS == 60
