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


#: A module a newcomer can read in one sitting: past this, it holds more than one thing and should be split.
MAX_MODULE_LINES = 400


def test_no_module_of_the_app_is_over_400_lines() -> None:
    lines = {path: len(path.read_text().splitlines()) for path in (ROOT / "screening").rglob("*.py")}
    too_long = {str(path.relative_to(ROOT)): count for path, count in lines.items() if count > MAX_MODULE_LINES}
    assert not too_long, too_long
