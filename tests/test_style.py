"""The code passes the linter and is formatted, so reviews read the change, not the style."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["screening", "tests", "bench", "wsgi.py", "gunicorn.conf.py", "setup.py"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ruff from this environment in the project root."""
    return subprocess.run([sys.executable, "-m", "ruff", *args, *PATHS], cwd=ROOT, capture_output=True, text=True)


def test_lint() -> None:
    result = ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_format() -> None:
    result = ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
