"""A built wheel, installed outside the checkout, migrates, activates the default rules and serves every kind of page.

The wheel is built once per session from a copy of the working tree (so the build leaves nothing in the checkout)
and installed into a folder of its own on PYTHONPATH, reusing this environment's dependencies. Every command then
runs from a working directory outside the repository, so nothing can come from the checkout.
"""

from __future__ import annotations

import os
from contextlib import closing
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from screening.engine.loader import read_sources
from screening.engine.loader import version_of

from .test_serving import _free_port
from .conftest import CLINIC_ENV
from .conftest import PRODUCTION_SECRET
from .ruleset_files import RULES
from .test_serving import _get

ROOT = Path(__file__).resolve().parent.parent

#: What a build never needs from the working tree.
NOT_BUILT = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", "instance", ".*cache", ".hypothesis"
)


@dataclass(frozen=True)
class Installed:
    """A wheel installed into ``site``, run from ``elsewhere`` with its own database."""

    site: Path
    elsewhere: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python ARGS`` against the installed package."""
        return subprocess.run(
            [sys.executable, *args], cwd=self.elsewhere, env=self.env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the working tree and install it, without dependencies, into a fresh folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_BUILT)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(base / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (base / "dist").glob("screening-*.whl")
    site = base / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        **CLINIC_ENV,
        "SCREENING_DATABASE_URL": f"sqlite:///{elsewhere / 'clinic.sqlite3'}",
        "SCREENING_HUEY_URL": f"sqlite:///{elsewhere / 'huey.sqlite3'}",
    }
    for name in ("SCREENING_ENVIRONMENT", "SCREENING_RULES_DIR", "FLASK_APP"):
        env.pop(name, None)
    return Installed(site=site, elsewhere=elsewhere, env=env)


def test_the_installed_wheel_carries_every_file_migrates_activates_the_default_rules_and_serves(
    installed: Installed,
) -> None:
    # One test, so that parallel workers never build the wheel twice.
    package = installed.site / "screening"
    found = installed.run("-c", "import importlib.util; print(importlib.util.find_spec('screening').origin)")
    assert Path(found.stdout.strip()).parent == package, found.stderr  # not the checkout
    assert (package / "static" / "screening.css").is_file()
    assert (package / "migrations" / "env.py").is_file()
    assert list((package / "migrations" / "versions").glob("0001_*.py"))
    bundled = package / "bundled"
    assert (bundled / "templates" / "base.html").is_file()
    assert (bundled / "templates" / "intake" / "steps").is_dir()
    assert (bundled / "rules" / "outcomes.yaml").is_file()
    assert (bundled / "rules" / "tables" / "trd.yaml").is_file()
    assert not list(bundled.rglob("__pycache__"))

    # Each command imports the whole app (seconds on a busy machine): migrate, then let the server's start
    # activate the bundled rules, as `flask rules activate` would.
    migrated = installed.run("-m", "flask", "--app", "screening", "init-db")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    port = _free_port()
    settings = ["-c", "python:screening.gunicorn_conf"]  # what gunicorn.conf.py is in a checkout
    command = [sys.executable, "-m", "gunicorn", *settings, "-w", "1", "-b", f"127.0.0.1:{port}", "screening.wsgi:app"]
    server = subprocess.Popen(
        command,
        cwd=installed.elsewhere,
        env=installed.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        intake = _get(base + "/", time.monotonic() + 30)
        login = _get(base + "/login", time.monotonic() + 5)
        with urllib.request.urlopen(base + "/static/screening.css", timeout=5) as response:
            stylesheet = response.status, response.read().decode()
        with urllib.request.urlopen(base + "/favicon.ico", timeout=5) as response:
            icon = response.status, response.headers["Content-Type"]
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    status, headers, body = intake
    assert status == 200, errors
    assert "Step 1 of 12" in body
    assert "988" in body
    assert "Secure" in headers["Set-Cookie"]  # screening.wsgi runs in production mode
    assert login[0] == 200
    assert 'name="password"' in login[2]
    assert stylesheet[0] == 200
    assert "{" in stylesheet[1]
    assert icon == (200, "image/svg+xml; charset=utf-8")
    assert "Traceback" not in errors
    with closing(sqlite3.connect(installed.elsewhere / "clinic.sqlite3")) as database:
        activated = database.execute("SELECT version, origin FROM ruleset_version").fetchall()
    assert activated == [(version_of(read_sources(RULES)), "files")]  # the default rules, from the wheel's copy
