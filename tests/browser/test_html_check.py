"""The HTML checker's report names the page each error is on, as the test checked it, with the line."""

from __future__ import annotations

from pathlib import Path

from .html_check import HtmlChecker
from .html_check import describe


def test_each_error_is_reported_under_the_page_name_with_its_line(tmp_path: Path) -> None:
    checker = HtmlChecker(tmp_path)
    checker.save("<!doctype html><p>first</p>", "tests/a.py::test_one: welcome")
    checker.save("<!doctype html><p>second</p>", "tests/b.py::test_two: review")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(checker.names)
    messages = [
        {"type": "error", "url": f"file:{tmp_path}/page-0001.html", "lastLine": 9, "message": "Bad value “off”."},
        {"type": "error", "url": f"file:{tmp_path}/page-0000.html", "lastLine": 3, "message": "Stray end tag.",
         "extract": "  </p>\n  </div>\n"},
        {"type": "non-document-error", "url": f"file:{tmp_path}/gone.html", "message": "File not found."},
    ]  # fmt: skip
    assert describe(messages, checker.names) == [
        "gone.html: File not found.",
        "tests/a.py::test_one: welcome, line 3: Stray end tag. [</p> </div>]",
        "tests/b.py::test_two: review, line 9: Bad value “off”.",
    ]


def test_nothing_saved_needs_no_checker(tmp_path: Path) -> None:
    assert HtmlChecker(tmp_path).errors() == []
