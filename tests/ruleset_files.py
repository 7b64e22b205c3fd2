"""Helpers for tests that change a copy of the shipped rule files."""

from __future__ import annotations

import shutil
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "rules"


def copy_rules(target: Path) -> Path:
    """Copy the shipped rules/ directory to ``target`` / "rules" and return it."""
    destination = target / "rules"
    shutil.copytree(RULES, destination)
    return destination


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a file; fail loudly if ``old`` is not there."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def position(path: Path, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """Return the 1-based line and column where ``needle`` appears in a file."""
    text = path.read_text(encoding="utf-8")
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def rules_version() -> str:
    """Return the version of the shipped rule files."""
    from screening.ruleset.loader import read_sources
    from screening.ruleset.loader import version_of

    return version_of(read_sources(RULES))
