"""The app as a clinic serves it: over HTTPS, behind a reverse proxy, with links from its own settings.

A browser sends a form's Referer according to the Referrer-Policy of the page the form is on; the test
client sends none by itself, so ``browser_post`` adds what a browser would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.db import engine_for
from screening.security import RedactTokens
from screening.security import client_address

from .accounts import Users
from .conftest import PRODUCTION_SECRET
from .conftest import make_app
from .patient import CSRF

HTTPS = "https://localhost"


def referer_for(page: TestResponse, page_url: str) -> str | None:
    """Return the Referer a browser sends to the same site from ``page``, per its Referrer-Policy."""
    policy = page.headers.get("Referrer-Policy", "strict-origin-when-cross-origin")
    if policy == "no-referrer":
        return None
    if policy in {"origin", "strict-origin"}:
        return "/".join(page_url.split("/", 3)[:3]) + "/"
    return page_url


def browser_post(client: FlaskClient, path: str, data: dict[str, str], *, base: str = HTTPS) -> TestResponse:
    """Load ``path`` and post ``data`` from it as a browser does: its CSRF token, its Referer."""
    page = client.get(path, base_url=base)
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None, page.get_data(as_text=True)[:500]
    headers = {}
    referer = referer_for(page, base + path)
    if referer is not None:
        headers["Referer"] = referer
    return client.post(path, base_url=base, data={**data, "csrf_token": token.group(1)}, headers=headers)


def test_the_first_intake_step_is_accepted_over_https(client: FlaskClient) -> None:
    response = browser_post(client, "/", {"consent": "y", "action": "next"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert response.headers["Location"].endswith("/intake/age")


def test_sign_in_is_accepted_over_https(client: FlaskClient, users: Users) -> None:
    user = users.create("physician")
    response = browser_post(client, "/login", {"email": user.email, "password": users.password_of(user)})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert response.headers["Location"].endswith("/review/")


def test_a_post_from_another_site_is_refused_over_https(client: FlaskClient) -> None:
    page = client.get("/", base_url=HTTPS)
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None
    data = {"consent": "y", "action": "next", "csrf_token": token.group(1)}
    for headers in ({"Referer": "https://evil.example/"}, {}):
        response = client.post("/", base_url=HTTPS, data=data, headers=headers)
        assert response.status_code == 400
        assert "Please send the form again" in response.get_data(as_text=True)


def test_no_page_sends_its_address_to_another_site(client: FlaskClient) -> None:
    for path in ("/", "/login", "/intake/saved"):
        policy = client.get(path, base_url=HTTPS).headers["Referrer-Policy"]
        assert policy in {"same-origin", "no-referrer"}, path


def test_pages_whose_address_is_a_secret_send_no_referer_at_all(client: FlaskClient) -> None:
    for path in ("/status/" + "a" * 43, "/resume/" + "b" * 43):
        assert client.get(path, base_url=HTTPS).headers["Referrer-Policy"] == "no-referrer", path


def test_secure_responses_carry_hsts(client: FlaskClient) -> None:
    assert "max-age=" in client.get("/", base_url=HTTPS).headers["Strict-Transport-Security"]


# --- Behind a proxy -------------------------------------------------------------------------------------


#: Apps a test made beside the ``app`` fixture's; their connections are closed after the test.
MADE: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_made_apps() -> Iterator[None]:
    """Dispose of the engines of the apps a test made."""
    yield
    while MADE:
        engine_for(MADE.pop()).dispose()


def another_app(app: Flask, **config: object) -> Flask:
    """Return an app on the database of ``app`` with ``config`` changed."""
    made = make_app(app.config["DATABASE_URL"], **config)
    MADE.append(made)
    return made


def proxied_app(app: Flask, **config: object) -> Flask:
    """Return an app like ``app`` that trusts one reverse proxy."""
    return another_app(app, PROXY_COUNT=1, **config)


def test_behind_a_tls_proxy_forms_work_and_the_request_is_secure(app: Flask) -> None:
    client = proxied_app(app).test_client()
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/", headers=proxy)
    assert "Strict-Transport-Security" in page.headers
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None
    response = client.post(
        "/",
        data={"consent": "y", "action": "next", "csrf_token": token.group(1)},
        headers={**proxy, "Referer": "https://localhost/"},
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("<script>alert(1)</script>", None),
        ("x" * 500, None),
        ("unknown", None),
    ],
)
def test_a_forwarded_client_address_is_kept_only_when_it_is_an_address(
    app: Flask, forwarded: str, expected: str | None
) -> None:
    proxied = proxied_app(app)
    seen: list[str | None] = []

    @proxied.get("/_address")
    def address() -> str:
        from flask import request

        seen.append(request.remote_addr)
        return "ok"

    assert proxied.test_client().get("/_address", headers={"X-Forwarded-For": forwarded}).status_code == 200
    assert seen == [expected]


def test_client_address_normalises_or_drops() -> None:
    assert client_address(" 10.0.0.1 ") == "10.0.0.1"
    assert client_address("::ffff:10.0.0.1") == "::ffff:a00:1"
    assert client_address(None) is None
    assert client_address("10.0.0.1, 10.0.0.2") is None


def test_the_rate_limit_counts_by_the_validated_address(app: Flask) -> None:
    proxied = proxied_app(app, LOGIN_RATE_LIMIT="2 per minute")
    client = proxied.test_client()
    statuses = []
    for forged in ("<a>", "<b>", "<c>"):  # garbage addresses cannot each get a count of their own
        headers = {"X-Forwarded-For": forged}
        page = client.get("/login", headers=headers)
        token = CSRF.search(page.get_data(as_text=True))
        assert token is not None
        data = {"email": "nobody@clinic.example", "password": "wrong", "csrf_token": token.group(1)}
        statuses.append(client.post("/login", data=data, headers=headers).status_code)
    assert statuses == [422, 422, 429]


# --- Hosts and links ------------------------------------------------------------------------------------


def production_app(app: Flask, **config: object) -> Flask:
    """Return a production app on the database of ``app``."""
    return another_app(app, TESTING=False, ENVIRONMENT="production", SECRET_KEY=PRODUCTION_SECRET, **config)


def test_production_trusts_only_the_public_host_by_default(app: Flask) -> None:
    client = production_app(app).test_client()
    assert client.get("/", base_url="https://screening.clinic.example").status_code == 200
    response = client.get("/", base_url="https://attacker.example")
    assert response.status_code == 400
    assert "988" in response.get_data(as_text=True)


def test_trusted_hosts_setting_from_the_environment_form(app: Flask) -> None:
    client = production_app(app, TRUSTED_HOSTS="a.example, b.example").test_client()
    assert client.get("/", base_url="https://b.example").status_code == 200
    assert client.get("/", base_url="https://screening.clinic.example").status_code == 400


def test_development_accepts_any_host(client: FlaskClient) -> None:
    assert client.get("/", base_url="http://anything.test").status_code == 200


def test_links_use_the_public_address_not_the_host_header(client: FlaskClient) -> None:
    from .patient import Patient

    patient = Patient(client)
    patient.answer("welcome")
    patient.answer("age")
    cookie = client.get_cookie("screening_session")
    assert cookie is not None
    client.set_cookie("screening_session", cookie.value, domain="attacker.example")
    body = client.get("/intake/saved", base_url="http://attacker.example").get_data(as_text=True)
    assert "https://screening.clinic.example/resume/" in body
    assert "attacker.example" not in body


# --- Logs and headers -----------------------------------------------------------------------------------


def test_gunicorn_access_log_atoms_are_redacted(app: Flask) -> None:
    from gunicorn.glogging import SafeAtoms

    token = "Zk3_-abc" * 5
    atoms = SafeAtoms(
        {
            "r": f"GET /status/{token} HTTP/1.1",
            "U": f"/status/{token}",
            "f": f"https://screening.clinic.example/resume/{token}",
            "{referer}i": f"https://x/status/{token}",
            "s": "200",
        }
    )
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s %(f)s %({referer}i)s", atoms, None)
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("gunicorn.access").filters)
    for log_filter in logging.getLogger("gunicorn.access").filters:
        log_filter.filter(record)
    line = record.getMessage()
    assert token not in line
    assert line.count("[redacted]") == 3
    assert atoms["{missing}i"] == "-"  # gunicorn's own lookup rules still apply


def test_percent_encoded_tokens_are_redacted() -> None:
    from screening.security import redact

    assert redact("GET /status/ab%43de%2Dx HTTP/1.1") == "GET /status/[redacted] HTTP/1.1"


def test_405_says_which_methods_are_allowed(client: FlaskClient) -> None:
    response = client.delete("/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "988" in response.get_data(as_text=True)


def test_429_says_when_to_try_again(app: Flask) -> None:
    client = another_app(app, LOGIN_RATE_LIMIT="1 per minute").test_client()
    statuses = []
    for _ in range(2):
        page = client.get("/login")
        token = CSRF.search(page.get_data(as_text=True))
        assert token is not None
        response = client.post("/login", data={"email": "a@b.example", "password": "x", "csrf_token": token.group(1)})
        statuses.append(response.status_code)
    assert statuses == [422, 429]
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_gunicorn_error_log_lines_are_redacted(app: Flask) -> None:
    token = "Qm9_-xyz" * 5
    record = logging.LogRecord(
        "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request %s", (f"/resume/{token}",), None
    )
    for log_filter in logging.getLogger("gunicorn.error").filters:
        log_filter.filter(record)
    assert record.getMessage() == "Error handling request /resume/[redacted]"
