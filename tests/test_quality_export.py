"""The quality-review export: its rows against submissions made here, what it leaves out, its dictionary, the command."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from screening.db import new_session
from screening.exports import data_dictionary
from screening.exports import quality_csv
from screening.exports.days import DayRange
from screening.instruments import score_answers
from screening.models import Submission
from screening.models import User
from screening.review import service

from .accounts import Users
from .patient import CONTACT_DETAILS
from .patient import Patient
from .test_auth import audit_rows
from .test_review_service import add_submission

#: Free text a patient or a physician typed: none of it may reach the export.
OTHER_MEDICINE = "zorbaquinol"
NOTE = "Spoke with the patient about quetiapine-xr side effects."
#: The contact details the patient gave, as they could appear anywhere.
CONTACT_TRACES = ("Jordan", "jordan.rivers@example.org", "555-0187", "5550187", "+12125550187")
TODAY = datetime.now(UTC).date()


def submit(app: Flask, **overrides: dict[str, Any]) -> str:
    """Walk the intake in a browser session of its own and send it; return the submission's reference."""
    patient = Patient(app.test_client())
    patient.answer_all(overrides)
    assert patient.submit().status_code == 302
    with new_session(app) as session:
        return session.scalars(sa.select(Submission.reference).order_by(Submission.id.desc())).first() or ""


@pytest.fixture()
def made(app: Flask, users: Users) -> dict[str, str]:
    """Two intakes sent today (one with contact details and a medicine typed in), one of them decided with a note."""
    with_contact = submit(
        app,
        contact=CONTACT_DETAILS,
        treatments={"medications-0-drug": "other", "medications-0-other_name": OTHER_MEDICINE},
    )
    plain = submit(app, mood={f"phq9_{i}": v for i, v in enumerate("333333330", start=1)})
    doctor_id = users.create("physician").id
    with new_session(app) as session:
        submission = session.scalars(sa.select(Submission).where(Submission.reference == with_contact)).one()
        service.decide(
            session, submission.id, session.get_one(User, doctor_id), "consult", NOTE, True, datetime.now(UTC)
        )
        session.commit()
    return {"with_contact": with_contact, "plain": plain}


def export_text(app: Flask, days: DayRange, *, actor: str = "cli") -> str:
    """Run the export of ``days`` through the service and return its CSV."""
    with new_session(app) as session:
        export = quality_csv.start_export(session, days, actor=actor, at=datetime.now(UTC))
        session.commit()
        return "".join(quality_csv.csv_lines(session, export, batch=1))


def read(text: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Return the header and the rows of an export by reference."""
    header, *rows = csv.reader(io.StringIO(text))
    return header, {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def test_one_row_per_submission_with_the_scoring_functions_scores(app: Flask, made: dict[str, str]) -> None:
    header, rows = read(export_text(app, DayRange(TODAY, TODAY)))
    assert header == list(quality_csv.HEADER) and set(rows) == set(made.values())
    with new_session(app) as session:
        stored = {s.reference: s for s in session.scalars(sa.select(Submission))}
        for reference, row in rows.items():
            scores = score_answers(stored[reference].answers)
            for key in ("phq9", "gad7", "isi", "wpi", "sss", "fs", "pain_average"):
                assert row[f"{key}_total"] == str(getattr(scores, key)), key
            for key in ("phq9", "gad7", "isi", "fs", "pain_average"):
                band = getattr(scores, "pain_band" if key == "pain_average" else f"{key}_band")
                assert row[f"{key}_band"] == band, key
            assert row["fibromyalgia_acr2016"] == ("1" if scores.fibromyalgia_acr2016 else "0")
            assert row["generalized_pain_regions"] == str(scores.generalized_pain_regions)
            assert row["outcome"] == stored[reference].outcome and row["ruleset_version"].startswith("sha256:")
            assert row["submitted_on"] == TODAY.isoformat() and row["form_version"] == stored[reference].form_version
    decided, plain = rows[made["with_contact"]], rows[made["plain"]]
    assert (decided["review_status"], decided["decision"], decided["decided_on"]) == ("decided", "consult", str(TODAY))
    assert (plain["review_status"], plain["decision"], plain["decided_on"]) == ("open", "", "")
    assert plain["phq9_band"] == "severe" and plain["safety_flag"] == "0"


def test_no_free_text_no_contact_details_no_exact_time(app: Flask, made: dict[str, str]) -> None:
    text = export_text(app, DayRange(TODAY, TODAY))
    for trace in (OTHER_MEDICINE, NOTE, "quetiapine", *CONTACT_TRACES, "NY", "morning"):
        assert trace.lower() not in text.lower(), trace
    assert "T" not in "".join(row["submitted_on"] + row["decided_on"] for row in read(text)[1].values())
    assert ":" not in text.replace("sha256:", "")  # no time of day anywhere


def test_the_range_is_whole_utc_days_both_included(app: Flask) -> None:
    day = date(2026, 3, 10)
    with new_session(app) as session:
        for hours in (-1, 0, 47, 48):  # the evening before, midnight, the last hour, the next midnight
            add_submission(
                session, "candidate", submitted_at=datetime(2026, 3, 10, tzinfo=UTC) + timedelta(hours=hours)
            )
        session.commit()
    _header, rows = read(export_text(app, DayRange(day, day + timedelta(days=1))))
    assert sorted(row["submitted_on"] for row in rows.values()) == ["2026-03-10", "2026-03-11"]
    assert [row["phq9_total"] for row in rows.values()] == ["", ""]  # a submission without scores: empty cells


def test_a_reopened_decision_is_left_out(app: Flask, made: dict[str, str], users: Users) -> None:
    doctor_id = users.create("physician", email="second@clinic.test").id
    with new_session(app) as session:
        submission = session.scalars(sa.select(Submission).where(Submission.reference == made["with_contact"])).one()
        service.reopen(session, submission.id, session.get_one(User, doctor_id), datetime.now(UTC), "Reviewing again.")
        session.commit()
    row = read(export_text(app, DayRange(TODAY, TODAY)))[1][made["with_contact"]]
    assert (row["review_status"], row["decision"], row["decided_on"]) == ("open", "", "")


def test_a_submission_sent_while_the_file_is_written_is_not_in_it(app: Flask, made: dict[str, str]) -> None:
    with new_session(app) as session:
        export = quality_csv.start_export(session, DayRange(TODAY, TODAY), actor="cli", at=datetime.now(UTC))
        session.commit()
        add_submission(session, "candidate", submitted_at=datetime.now(UTC))
        session.commit()
        _header, rows = read("".join(quality_csv.csv_lines(session, export)))
    assert export.rows == 2 and set(rows) == set(made.values())


def test_the_dictionary_describes_every_column_from_the_instruments() -> None:
    header, *rows = csv.reader(io.StringIO("".join(data_dictionary.csv_lines({"safety": "Safety follow-up"}))))
    assert header[:4] == ["Variable / Field Name", "Form Name", "Field Type", "Field Label"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(by_name) == list(quality_csv.HEADER)
    choices = "Choices, Calculations, OR Slider Labels"
    assert by_name["phq9_band"][choices] == (
        "minimal, Minimal | mild, Mild | moderate, Moderate | moderately_severe, Moderately severe | severe, Severe"
    )
    assert by_name["phq9_total"]["Text Validation Max"] == "27" and by_name["isi_total"]["Text Validation Max"] == "28"
    assert by_name["outcome"][choices] == "safety, Safety follow-up"
    assert by_name["fibromyalgia_acr2016"]["Field Type"] == "yesno"
    assert all(row["Field Label"] for row in by_name.values())


# --- The command --------------------------------------------------------------------------------------------------


def test_the_command_writes_the_rows_and_the_dictionary(
    app: Flask, runner: FlaskCliRunner, made: dict[str, str], tmp_path: Path
) -> None:
    out, dictionary = tmp_path / "quality.csv", tmp_path / "dictionary.csv"
    day = TODAY.isoformat()
    result = runner.invoke(
        args=["export", "csv", "--from", day, "--to", day, str(out), "--dictionary", str(dictionary)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Wrote 2 submission(s) from {day} to {day} to {out}."
    assert set(read(out.read_text(encoding="utf-8"))[1]) == set(made.values())
    assert dictionary.read_text(encoding="utf-8").startswith("Variable / Field Name,")
    (exported,) = audit_rows(app, "quality_csv.exported")
    assert (exported.actor, exported.subject_id, exported.details) == ("cli", None, {"from": day, "to": day, "rows": 2})
    (described,) = audit_rows(app, "data_dictionary.exported")
    assert described.details == {"columns": len(quality_csv.COLUMNS)}


def test_an_empty_range_writes_the_header_alone(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    result = runner.invoke(args=["export", "csv", "--from", "2020-01-01", "--to", "2020-01-31", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (",".join(quality_csv.HEADER) + "\r\n").encode()
    (exported,) = audit_rows(app, "quality_csv.exported")
    assert exported.details == {"from": "2020-01-01", "to": "2020-01-31", "rows": 0}


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13-01", "2026-12-31", "Error: --from: Enter a date as YYYY-MM-DD, such as 2026-11-24."),
        ("2026-01-01", "31/12/2026", "Error: --to: Enter a date as YYYY-MM-DD, such as 2026-11-24."),
        ("2026-W01-1", "2026-12-31", "Error: --from: Enter a date as YYYY-MM-DD, such as 2026-11-24."),
        ("2026-12-31", "2026-01-01", "Error: --to: The end date is before the start date."),
    ],
)
def test_a_bad_range_is_one_line_and_exit_1(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, first: str, last: str, message: str
) -> None:
    out = tmp_path / "never.csv"
    result = runner.invoke(args=["export", "csv", "--from", first, "--to", last, str(out)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.output.strip() == message  # one line, no traceback
    assert not out.exists() and audit_rows(app, "quality_csv.exported") == []
