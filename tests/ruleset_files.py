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
    from screening.engine.loader import read_sources
    from screening.engine.loader import version_of

    return version_of(read_sources(RULES))


#: 300 ones: a comprehension over them inside another evaluates its innermost part 90,000 times (about a second).
ONES = "[" + ", ".join(["1"] * 300) + "]"
SLOW_RULE = "flag-slow"


def slow_condition(guard: str = "age == 62", *, depth: int = 2) -> str:
    """Return a legal condition that is slow once ``guard`` holds (no shipped test case has age 62).

    ``depth`` comprehensions over 300 ones are nested: 2 take about a second, 3 would take minutes and are refused
    when compiled, as too costly.
    """
    inner = "a0"
    for level in range(depth):
        inner = f"[{inner} for a{level} in x]"
    return f"{guard} and [{inner} for x in [{ONES}]].length > 0"


def big_condition(guard: str = "age == 62") -> str:
    """Return a condition that would build 90,000 new strings of 1,000 characters (90 MB) once ``guard`` holds; it is
    refused when compiled, as too costly."""
    return f'{guard} and [[[phq9_band + "{"x" * 1000}" for a in x] for b in x] for x in [{ONES}]].length > 0'


def add_flag(path: Path, condition: str, *, tested_with_age: int | None = None) -> tuple[int, int]:
    """Add the notes-only rule SLOW_RULE with ``condition`` first in a rules file (and a test case of that age).

    Return the line and column of the condition, where an error about it is reported.
    """
    rule = (
        f"rules:\n  - id: {SLOW_RULE}\n    description: A condition that takes long.\n"
        f"    when: '{condition}'\n    notes:\n      - {{audience: physician, text: slow}}\n"
    )
    edit(path, "rules:\n", rule)
    if tested_with_age is not None:
        case = (
            f"  - name: age {tested_with_age}\n    answers: {{age: {tested_with_age}}}\n"
            f"    expect: {{outcome: not_candidate, fired: [{SLOW_RULE}]}}\n"
        )
        path.write_text(path.read_text(encoding="utf-8") + case, encoding="utf-8")
    return position(path, f"'{condition[:20]}")
