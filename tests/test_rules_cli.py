"""The rules commands and ``flask screen``: the contract staff rely on."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from screening.answers import example_document

from .patient import Patient
from .ruleset_files import RULES
from .ruleset_files import SLOW_RULE
from .ruleset_files import add_flag
from .ruleset_files import copy_rules
from .ruleset_files import edit
from .ruleset_files import position
from .ruleset_files import rules_version
from .ruleset_files import slow_condition


def test_check_passes_on_the_shipped_rules(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["rules", "check"])
    assert result.exit_code == 0, result.output
    assert f"version {rules_version()}" in result.output


def test_check_and_test_stop_a_slow_condition_and_name_it(runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    line, column = add_flag(rules / "flags.yaml", slow_condition(), tested_with_age=62)
    for command in ("check", "test"):
        result = runner.invoke(args=["rules", command, str(rules)])
        assert result.exit_code == 1, result.output
        assert (
            f"{rules}/flags.yaml:{line}:{column}: {SLOW_RULE}: this condition took more than 200 ms for one "
            "submission; simplify it"
        ) in result.output
        assert "a condition went over the evaluation budget" in result.output


def test_check_reports_every_error_with_its_position_and_fails(runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "candidates.yaml", "when: trd and phq9 >= 10", "when: trd and phq9x >= 10")
    edit(rules / "flags.yaml", "when: age >= 65", 'when: age >= "65"')
    result = runner.invoke(args=["rules", "check", str(rules)])
    assert result.exit_code == 1
    line, column = position(rules / "candidates.yaml", "phq9x")
    assert f"{rules}/candidates.yaml:{line}:{column}: candidate-trd: unknown fact 'phq9x'" in result.output
    age_line, age_column = position(rules / "flags.yaml", '"65"')
    assert f"{rules}/flags.yaml:{age_line}:{age_column}: flag-age-65: type mismatch" in result.output
    assert "2 error(s) in the rule files" in result.output


def test_check_one_file_with_the_rest_of_its_directory(runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "flags.yaml", "when: breastfeeding", "when: breastfeedin")
    result = runner.invoke(args=["rules", "check", str(rules / "flags.yaml")])
    assert result.exit_code == 1
    assert (
        "flags.yaml" in result.output and "unknown fact 'breastfeedin'; did you mean 'breastfeeding'?" in result.output
    )


def test_check_names_a_file_checked_alone_as_it_was_given(runner: FlaskCliRunner, tmp_path: Path) -> None:
    lone = tmp_path / "edited" / "flags.yaml"
    lone.parent.mkdir()
    shutil.copy(RULES / "flags.yaml", lone)
    edit(lone, "when: breastfeeding", "when: breastfeedin")
    result = runner.invoke(args=["rules", "check", str(lone)])
    assert result.exit_code == 1
    line, column = position(lone, "when: breastfeedin")
    assert result.output.splitlines() == [
        f"{lone}:{line}:{column + 6}: flag-breastfeeding: unknown fact 'breastfeedin'; did you mean 'breastfeeding'?",
        "Error: 1 error(s) in the rule files",
    ]


def test_check_fails_when_a_test_case_fails(runner: FlaskCliRunner, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    edit(rules / "flags.yaml", "when: age >= 65", "when: age >= 66")
    result = runner.invoke(args=["rules", "check", str(rules)])
    assert result.exit_code == 1
    assert f"FAIL {rules}/flags.yaml:" in result.output
    assert "fired rules: expected ['flag-age-65'], got []" in result.output
    assert re.fullmatch(r"Error: \d+ of \d+ test case\(s\) failed", result.output.splitlines()[-1])


def test_check_rejects_a_rule_file_that_is_not_utf8(runner: FlaskCliRunner, tmp_path: Path) -> None:
    lone = tmp_path / "flags.yaml"
    lone.write_bytes("# Zoë\n".encode("latin-1") + (RULES / "flags.yaml").read_bytes())
    result = runner.invoke(args=["rules", "check", str(lone)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"Error: {lone}: rule files must be UTF-8 text (invalid continuation byte)"]


def test_test_command_lists_every_case_and_fails_on_one(runner: FlaskCliRunner, tmp_path: Path) -> None:
    passing = runner.invoke(args=["rules", "test"])
    assert passing.exit_code == 0, passing.output
    assert "PASS" in passing.output and " 0 failed" in passing.output
    rules = copy_rules(tmp_path)
    edit(rules / "flags.yaml", "when: age >= 65", "when: age >= 66")
    failing = runner.invoke(args=["rules", "test", str(rules)])
    assert failing.exit_code == 1
    assert "FAIL" in failing.output and "age 65" in failing.output
    assert "fired rules: expected ['flag-age-65'], got []" in failing.output


def test_facts_lists_name_type_and_meaning(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["rules", "facts"])
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "number" in lines["phq9_item9"] and "self-harm" in lines["phq9_item9"]
    assert "boolean" in lines["trd"] and "list of text" in lines["contraindications"]
    for name in (
        "fibromyalgia_acr2016",
        "adequate_failed_trials",
        "safety_concern",
        "age",
        "pregnancy",
        "medical_history",
    ):
        assert name in lines


def test_screen_one_document(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(example_document()))
    result = runner.invoke(args=["screen", str(path)])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert set(output) == {"scores", "facts", "outcome", "priority", "fired_rules", "notes", "ruleset_version"}
    assert output["outcome"] == "candidate" and output["priority"] == 3
    for key in (
        "wpi",
        "sss",
        "fs",
        "generalized_pain_regions",
        "phq9",
        "phq9_band",
        "phq9_item9",
        "gad7",
        "gad7_band",
        "isi",
        "isi_band",
        "adequate_failed_trials",
    ):
        assert key in output["scores"]
    assert output["facts"]["fibromyalgia_acr2016"] is True and output["facts"]["trd"] is True
    assert output["ruleset_version"] == rules_version()
    assert all(set(note) == {"rule", "audience", "text"} for note in output["notes"])


def test_screen_a_list_from_stdin_in_order(runner: FlaskCliRunner) -> None:
    safety = example_document()
    safety["phq9"][8] = 2
    result = runner.invoke(args=["screen", "-"], input=json.dumps([example_document(), safety]))
    assert result.exit_code == 0, result.output
    assert [item["outcome"] for item in json.loads(result.output)] == ["candidate", "safety"]


def test_screen_rejects_a_malformed_document_naming_the_field(runner: FlaskCliRunner) -> None:
    bad = example_document()
    bad["phq9"][8] = 7
    result = runner.invoke(args=["screen", "-"], input=json.dumps([example_document(), bad]))
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == ["Error: [1].phq9[8]: must be an integer from 0 to 3"]


def test_screen_rejects_text_that_is_not_json(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["screen", "-"], input="{not json")
    assert result.exit_code != 0
    assert result.output.startswith("Error: document: not valid JSON")


def test_screen_rejects_a_file_that_is_not_utf8(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "Zoë"}'.encode("latin-1"))
    result = runner.invoke(args=["screen", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: document: not UTF-8 text (byte 0xeb at offset 12); save it as UTF-8"]


def test_screen_reads_a_document_saved_with_a_byte_order_mark(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(example_document()), encoding="utf-8-sig")
    result = runner.invoke(args=["screen", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "candidate"


def test_explain_prints_the_whole_trace(app: Flask, runner: FlaskCliRunner, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    reference = patient.get("/intake/done").get_data(as_text=True).split('id="reference-code">')[1].split("<")[0]
    result = runner.invoke(args=["rules", "explain", reference.lower().replace("-", "")])
    assert result.exit_code == 0, result.output
    assert f"Submission {reference}" in result.output
    assert "outcome: candidate (queue priority 3)" in result.output
    assert "fired candidate-trd -> candidate" in result.output and "phq9 = 15" in result.output
    assert "trial sertraline: counts toward TRD" in result.output
    assert rules_version() in result.output
    missing = runner.invoke(args=["rules", "explain", "ZZZZ-ZZZZ"])
    assert missing.exit_code == 1 and "no submission with reference ZZZZ-ZZZZ" in missing.output


def test_reevaluate_adds_a_decision(app: Flask, runner: FlaskCliRunner, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    reference = patient.get("/intake/done").get_data(as_text=True).split('id="reference-code">')[1].split("<")[0]
    result = runner.invoke(args=["rules", "reevaluate", reference])
    assert result.exit_code == 0, result.output
    assert f"Submission {reference}: candidate" in result.output
    explained = runner.invoke(args=["rules", "explain", reference])
    assert explained.output.count("\nDecision ") == 2


def test_activate_reports_the_active_version(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["rules", "activate"])
    assert result.exit_code == 0, result.output
    assert f"Active rule set: {rules_version()}" in result.output
