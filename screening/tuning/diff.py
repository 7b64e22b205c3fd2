"""Side-by-side, line-by-line differences between two rule sets (or two texts of one file).

Pure functions over texts: no database, no Flask. Each file becomes rows of
(left line number, left text, right line number, right text, kind), where kind is one of
``equal``, ``changed``, ``added`` or ``removed``; files only on one side are added or removed whole.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

EQUAL = "equal"
CHANGED = "changed"
ADDED = "added"
REMOVED = "removed"
UNCHANGED = "unchanged"
#: Unchanged lines shown around each change.
CONTEXT = 3


@dataclass(frozen=True)
class Row:
    """One line of a side-by-side comparison; a side is None where the line does not exist."""

    left_number: int | None
    left: str | None
    right_number: int | None
    right: str | None
    kind: str


@dataclass(frozen=True)
class Hunk:
    """Rows around one or more changes, and how many unchanged lines were left out before them."""

    skipped_before: int
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class FileDiff:
    """The comparison of one file: ``status`` is changed, added, removed or unchanged."""

    name: str
    status: str
    rows: tuple[Row, ...]

    @property
    def changes(self) -> int:
        """Return how many rows differ."""
        return sum(1 for row in self.rows if row.kind != EQUAL)

    def hunks(self, context: int = CONTEXT) -> list[Hunk]:
        """Return the changed rows with ``context`` unchanged rows around them; far-apart changes split."""
        keep = _rows_to_keep(self.rows, context)
        hunks: list[Hunk] = []
        current: list[Row] = []
        skipped = 0
        for index, row in enumerate(self.rows):
            if index in keep:
                current.append(row)
                continue
            if current:
                hunks.append(Hunk(skipped, tuple(current)))
                current, skipped = [], 0
            skipped += 1
        if current:
            hunks.append(Hunk(skipped, tuple(current)))
        return hunks

    def skipped_after(self, context: int = CONTEXT) -> int:
        """Return how many unchanged lines follow the last hunk (all of them when nothing changed)."""
        keep = _rows_to_keep(self.rows, context)
        return len(self.rows) - (max(keep) + 1) if keep else len(self.rows)


@dataclass(frozen=True)
class Diff:
    """The comparison of two rule sets, file by file in name order."""

    files: tuple[FileDiff, ...]

    def _with(self, status: str) -> list[FileDiff]:
        """Return the files of one status."""
        return [file for file in self.files if file.status == status]

    @property
    def changed(self) -> list[FileDiff]:
        """Return the files present on both sides with different text."""
        return self._with(CHANGED)

    @property
    def added(self) -> list[FileDiff]:
        """Return the files only on the right side."""
        return self._with(ADDED)

    @property
    def removed(self) -> list[FileDiff]:
        """Return the files only on the left side."""
        return self._with(REMOVED)

    @property
    def unchanged(self) -> list[FileDiff]:
        """Return the files with the same text on both sides."""
        return self._with(UNCHANGED)

    @property
    def different(self) -> list[FileDiff]:
        """Return every file that is not unchanged, in name order."""
        return [file for file in self.files if file.status != UNCHANGED]


def lines_of(text: str) -> list[str]:
    """Return the lines of a text without their line ends."""
    return text.splitlines()


def diff_lines(left: str, right: str) -> tuple[Row, ...]:
    """Return the side-by-side rows of two texts: replaced lines pair up as changed, the rest added or removed."""
    old, new = lines_of(left), lines_of(right)
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                Row(i + 1, old[i], j + 1, new[j], EQUAL) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        rows.extend(Row(i1 + k + 1, old[i1 + k], j1 + k + 1, new[j1 + k], CHANGED) for k in range(paired))
        rows.extend(Row(i + 1, old[i], None, None, REMOVED) for i in range(i1 + paired, i2))
        rows.extend(Row(None, None, j + 1, new[j], ADDED) for j in range(j1 + paired, j2))
    return tuple(rows)


def diff_file(name: str, left: str | None, right: str | None) -> FileDiff:
    """Return the comparison of one file; None on a side means the file is not there."""
    if left is None and right is None:
        raise ValueError(f"{name} is on neither side")
    if left is None:
        rows = tuple(Row(None, None, number, line, ADDED) for number, line in enumerate(lines_of(right or ""), 1))
        return FileDiff(name, ADDED, rows)
    if right is None:
        rows = tuple(Row(number, line, None, None, REMOVED) for number, line in enumerate(lines_of(left), 1))
        return FileDiff(name, REMOVED, rows)
    rows = diff_lines(left, right)
    return FileDiff(name, UNCHANGED if left == right else CHANGED, rows)


def diff_sources(left: Mapping[str, str], right: Mapping[str, str]) -> Diff:
    """Return the comparison of two rule sets ({file name: text} each)."""
    names = sorted({*left, *right})
    return Diff(tuple(diff_file(name, left.get(name), right.get(name)) for name in names))


def _rows_to_keep(rows: tuple[Row, ...], context: int) -> set[int]:
    """Return the indexes of the rows that differ and of the ``context`` rows on each side of them."""
    keep: set[int] = set()
    for index, row in enumerate(rows):
        if row.kind != EQUAL:
            keep.update(range(max(index - context, 0), min(index + context + 1, len(rows))))
    return keep
