"""The README's "Where things are" map is true to the tree: what it names exists, and every package is in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "screening"


def map_entries() -> dict[str, str]:
    """Return the map's entries, each path it starts a line with and the text of its lines."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^Where things are:.*?^```\n(.*?)^```$", readme, re.M | re.S)
    assert block is not None, "the README has no 'Where things are' map"
    entries: dict[str, str] = {}
    current = ""
    for line in block.group(1).splitlines():
        start = re.match(r"^(\S+)\s", line + " ")
        if start is not None:
            current = start.group(1)
            entries[current] = ""
        entries[current] += line + "\n"
    return entries


def packages() -> list[Path]:
    """Return every package below screening/, the migrations left out."""
    found = (path.parent for path in PACKAGE.rglob("__init__.py"))
    return sorted(path for path in found if path != PACKAGE and "migrations" not in path.parts)


def test_every_path_the_map_names_exists() -> None:
    assert [path for path in map_entries() if not (ROOT / path).exists()] == []


def test_every_module_named_in_a_package_entry_is_in_that_package() -> None:
    missing = [
        f"{entry}{name}"
        for entry, text in map_entries().items()
        if entry.endswith("/") and (ROOT / entry / "__init__.py").is_file()
        for name in re.findall(r"\b(\w+\.py)\b", text)
        if not list((ROOT / entry).rglob(name))
    ]
    assert missing == []


def test_every_package_is_in_the_map() -> None:
    entries = map_entries()
    unlisted = []
    for package in packages():
        path = package.relative_to(ROOT).as_posix() + "/"
        parent = package.parent.relative_to(ROOT).as_posix() + "/"
        named_in_parent = re.search(rf"(^|[\s(]){re.escape(package.name)}/", entries.get(parent, ""))
        if path not in entries and named_in_parent is None:
            unlisted.append(path)
    assert unlisted == []
