"""The answers document the README shows is in the repository, and ``screen`` accepts it."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskCliRunner

from screening.answers import example_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "answers.json"


def test_the_readme_shows_the_example_command() -> None:
    assert "flask --app screening screen examples/answers.json" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_screen_accepts_the_example_answers_document(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["screen", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["outcome"] == "candidate"
    assert output["facts"]["fibromyalgia_acr2016"] is True and output["facts"]["trd"] is True
    assert output["scores"]["phq9_item9"] == 0


def test_the_example_is_the_document_the_tests_use() -> None:
    assert json.loads(EXAMPLE.read_text(encoding="utf-8")) == example_document()
