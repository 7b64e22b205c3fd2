"""Task consumers in processes of their own, as production runs them, for the tests of what they send."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

import screening.tasks

from .mail import SMTPServer


@pytest.fixture()
def consumer_env(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Return the environment a consumer process of the ``app`` fixture's database runs with."""
    from .conftest import CLINIC_ENV  # here, as conftest registers this fixture while it is being imported
    from .conftest import PRODUCTION_SECRET

    env = {
        "SCREENING_SECRET_KEY": PRODUCTION_SECRET,
        **CLINIC_ENV,
        "SCREENING_DATABASE_URL": app.config["DATABASE_URL"],
        "SCREENING_HUEY_URL": f"sqlite:///{tmp_path / 'huey.sqlite3'}",
        "SCREENING_ENVIRONMENT": "production",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(screening.tasks, "_consumer_app", None)
    return env


def sending_env(consumer_env: dict[str, str], smtp: SMTPServer, **settings: str) -> dict[str, str]:
    """Return the environment of a consumer process that sends alerts to ``smtp``, with more ``settings``."""
    return {
        **os.environ,
        **consumer_env,
        "SCREENING_ALERT_RECIPIENTS": '["oncall@clinic.example"]',
        "SCREENING_SMTP_HOST": "127.0.0.1",
        "SCREENING_SMTP_PORT": str(smtp.port),
        **settings,
    }


@dataclass
class Consumer:
    """A ``huey_consumer`` process started by a test, with its output in a file."""

    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 20) -> str:
        """Return the command and the last lines of its output."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join([f"----- {' '.join(map(str, self.popen.args))}", *text.splitlines()[-lines:]])


def start_consumer(arguments: tuple[str, ...], env: dict[str, str], log: Path) -> Consumer:
    """Start ``huey_consumer`` with ``arguments``, polling its queue often."""
    huey_consumer = str(Path(sys.executable).parent / "huey_consumer")
    with log.open("wb") as output:
        popen = subprocess.Popen(
            [huey_consumer, *arguments, "--max-delay", "0.5"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    return Consumer(popen, log)


def stop_consumers(consumers: list[Consumer]) -> None:
    """Stop each consumer by its PID; kill one that does not stop in time."""
    for consumer in consumers:
        consumer.popen.terminate()
    for consumer in consumers:
        try:
            consumer.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            consumer.popen.kill()
            consumer.popen.wait(timeout=10)


def wait_until(what: str, ready: Callable[[], bool], consumers: list[Consumer], seconds: float) -> None:
    """Wait until ``ready()``; fail with the consumers' output when time runs out or a consumer exits."""
    deadline = time.monotonic() + seconds
    while not ready():
        logs = "\n".join(consumer.tail() for consumer in consumers)
        assert all(consumer.popen.poll() is None for consumer in consumers), f"a consumer exited: {what}\n{logs}"
        assert time.monotonic() < deadline, f"not after {seconds:.0f} s: {what}\n{logs}"
        time.sleep(0.1)
