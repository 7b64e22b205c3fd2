"""Production mode served by gunicorn over TLS itself, in Chromium: forms work, cookies are Secure, logs keep no token."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import expect

from screening import migrate
from screening.db import engine_for
from tests.accounts import Users
from tests.conftest import CLINIC_ENV
from tests.conftest import PRODUCTION_SECRET
from tests.conftest import make_app

from .wizard import answer_steps
from .wizard import send_answers

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN_IN_LOG = re.compile(r"/(?:resume|status)/(?!\[redacted\])[A-Za-z0-9_%-]{8,}")


@dataclass
class TlsServer:
    """gunicorn serving the app over HTTPS with a certificate made for this test."""

    url: str
    database_url: str
    access_log: Path
    error_log: Path

    def logs(self) -> str:
        """Return what gunicorn wrote to its access and error logs."""
        return self.access_log.read_text() + self.error_log.read_text()


def _free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for localhost and its key; return their paths."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)]
        + ["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def wait_until_serving(url: str, process: subprocess.Popen[bytes], error_log: Path) -> None:
    """Wait for the server to answer over TLS; fail with its log if it exits or takes too long."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/login", timeout=5, context=context):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + error_log.read_text())
            time.sleep(0.2)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """Serve a database of its own with ``gunicorn -w 2 --certfile ... wsgi:app`` in production mode.

    Started once for this module, on SQLite: tests/production/ runs the same over PostgreSQL behind nginx.
    """
    folder = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(folder)
    database_url = f"sqlite:///{folder / 'tls.sqlite3'}"
    migrate.upgrade(database_url)
    port = _free_port()
    url = f"https://localhost:{port}"
    server = TlsServer(url, database_url, folder / "access.log", folder / "error.log")
    env = {
        **os.environ,
        "SCREENING_DATABASE_URL": database_url,
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        **CLINIC_ENV,
        "SCREENING_PUBLIC_BASE_URL": url,
    }
    env.pop("SCREENING_ENVIRONMENT", None)
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    command += ["--certfile", str(cert), "--keyfile", str(key)]
    command += ["--access-logfile", str(server.access_log), "--error-logfile", str(server.error_log)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(url, process, server.error_log)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_patient_sends_answers_over_https_and_no_log_keeps_a_token(
    tls_server: TlsServer, new_context: NewContext
) -> None:
    context = new_context(ignore_https_errors=True)
    page = context.new_page()
    answer_steps(page, tls_server.url, until="pain")
    resume = page.locator("a.resume-link").first.get_attribute("href")
    assert resume is not None and resume.startswith(tls_server.url + "/resume/")
    answer_steps(page, tls_server.url)
    assert send_answers(page)
    status = page.locator("#status-link").get_attribute("href")
    assert status is not None and status.startswith(tls_server.url + "/status/")
    elsewhere = new_context(ignore_https_errors=True).new_page()
    for link in (resume, status):  # both secret links opened, so both reach the access log
        assert elsewhere.goto(link).ok  # type: ignore[union-attr]
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["screening_session"]["secure"] is True
    assert cookies["screening_session"]["httpOnly"] is True
    response = page.request.get(tls_server.url + "/")
    assert "max-age=" in response.headers["strict-transport-security"]
    assert not re.search(r"\d", response.headers.get("server", "")), response.headers.get("server")
    logs = tls_server.logs()
    assert "/resume/[redacted]" in logs and "/status/[redacted]" in logs
    assert TOKEN_IN_LOG.search(logs) is None, TOKEN_IN_LOG.search(logs)


def test_a_physician_signs_in_over_https(tls_server: TlsServer, new_context: NewContext) -> None:
    app = make_app(tls_server.database_url)
    try:
        users = Users(app)
        physician = users.create("physician")
    finally:
        engine_for(app).dispose()
    page = new_context(ignore_https_errors=True).new_page()
    page.goto(tls_server.url + "/login")
    page.get_by_label("Email address").fill(physician.email)
    page.get_by_label("Password").fill(users.password_of(physician))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/review/$"))
