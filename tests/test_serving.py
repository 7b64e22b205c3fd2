"""wsgi.py really serves the app under gunicorn with several workers, in production mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from screening import migrate

from .conftest import CLINIC_ENV
from .conftest import PRODUCTION_SECRET

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, deadline: float) -> tuple[int, dict[str, str], str]:
    """GET ``url``, retrying until the server is up or ``deadline`` passes."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, dict(response.headers), response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_the_intake(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    migrate.upgrade(url)
    port = _free_port()
    env = {**os.environ, "SCREENING_DATABASE_URL": url, "SCREENING_SECRET_KEY": PRODUCTION_SECRET, **CLINIC_ENV}
    env.pop("SCREENING_ENVIRONMENT", None)
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status, headers, body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 30)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert status == 200, errors
    assert "Step 1 of 12" in body
    assert "988" in body
    assert "Secure" in headers["Set-Cookie"]  # production mode under wsgi.py
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_gunicorn_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {**os.environ, "SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    env.pop("SCREENING_SECRET_KEY", None)
    env.pop("SCREENING_ENVIRONMENT", None)
    command = [sys.executable, "-c", "import wsgi"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SCREENING_SECRET_KEY" in result.stderr


def test_refuses_to_start_with_invalid_rules_and_no_earlier_version(tmp_path: Path) -> None:
    from .ruleset_files import copy_rules
    from .ruleset_files import edit

    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    env = {
        **os.environ,
        "SCREENING_DATABASE_URL": url,
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        **CLINIC_ENV,
        "SCREENING_RULES_DIR": str(rules),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "rules/candidates.yaml:7:19: candidate-trd: unknown fact 'phq9x'" in result.stderr
