"""The side-by-side diff of rule sets: changed, added and removed lines, added and removed files, hunks."""

from __future__ import annotations

from screening.tuning.diff import ADDED
from screening.tuning.diff import CHANGED
from screening.tuning.diff import EQUAL
from screening.tuning.diff import REMOVED
from screening.tuning.diff import UNCHANGED
from screening.tuning.diff import Row
from screening.tuning.diff import diff_file
from screening.tuning.diff import diff_lines
from screening.tuning.diff import diff_sources

BEFORE = "rules:\n  - id: a\n    when: phq9 >= 10\n    outcome: candidate\n"


def test_identical_texts_are_all_equal_rows() -> None:
    rows = diff_lines(BEFORE, BEFORE)
    assert [row.kind for row in rows] == [EQUAL] * 4
    assert rows[2] == Row(3, "    when: phq9 >= 10", 3, "    when: phq9 >= 10", EQUAL)


def test_a_replaced_line_is_changed_on_both_sides_at_its_line_numbers() -> None:
    rows = diff_lines(BEFORE, BEFORE.replace("phq9 >= 10", "phq9 >= 15"))
    assert [row.kind for row in rows] == [EQUAL, EQUAL, CHANGED, EQUAL]
    assert rows[2] == Row(3, "    when: phq9 >= 10", 3, "    when: phq9 >= 15", CHANGED)


def test_added_and_removed_lines_leave_the_other_side_empty() -> None:
    after = BEFORE.replace("  - id: a\n", "  - id: a\n    description: new\n").replace("    outcome: candidate\n", "")
    rows = diff_lines(BEFORE, after)
    assert Row(None, None, 3, "    description: new", ADDED) in rows
    assert Row(4, "    outcome: candidate", None, None, REMOVED) in rows
    assert [(row.left_number, row.right_number) for row in rows if row.kind == EQUAL] == [(1, 1), (2, 2), (3, 4)]


def test_a_longer_replacement_pairs_what_it_can_and_adds_the_rest() -> None:
    rows = diff_lines("a\nb\nc\n", "a\nB1\nB2\nc\n")
    assert [row.kind for row in rows] == [EQUAL, CHANGED, ADDED, EQUAL]
    assert rows[1] == Row(2, "b", 2, "B1", CHANGED) and rows[2] == Row(None, None, 3, "B2", ADDED)
    assert rows[3] == Row(3, "c", 4, "c", EQUAL)


def test_files_added_removed_changed_and_unchanged() -> None:
    diff = diff_sources(
        {"a.yaml": BEFORE, "gone.yaml": "x\ny\n", "same.yaml": "s\n"},
        {"a.yaml": BEFORE.replace("10", "12"), "new.yaml": "n\n", "same.yaml": "s\n"},
    )
    assert [(file.name, file.status) for file in diff.files] == [
        ("a.yaml", CHANGED),
        ("gone.yaml", REMOVED),
        ("new.yaml", ADDED),
        ("same.yaml", UNCHANGED),
    ]
    assert [file.name for file in diff.different] == ["a.yaml", "gone.yaml", "new.yaml"]
    assert [file.name for file in diff.unchanged] == ["same.yaml"]
    assert diff.removed[0].rows == (Row(1, "x", None, None, REMOVED), Row(2, "y", None, None, REMOVED))
    assert diff.added[0].rows == (Row(None, None, 1, "n", ADDED),)
    assert diff.changed[0].changes == 1 and diff.unchanged[0].changes == 0


def test_hunks_keep_context_around_changes_and_count_the_gaps() -> None:
    before = "".join(f"line {n}\n" for n in range(1, 21))
    after = before.replace("line 2\n", "line two\n").replace("line 15\n", "line fifteen\n")
    file = diff_file("f.yaml", before, after)
    hunks = file.hunks(context=2)
    assert [hunk.skipped_before for hunk in hunks] == [0, 8]
    assert [row.left_number for row in hunks[0].rows] == [1, 2, 3, 4]
    assert [row.left_number for row in hunks[1].rows] == [13, 14, 15, 16, 17]
    assert file.skipped_after(context=2) == 3
    assert diff_file("same.yaml", before, before).hunks() == []
