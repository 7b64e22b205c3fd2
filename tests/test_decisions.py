"""Every submission gets a decision in the same transaction; failures become manual review, safely."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from screening.db import new_session
from screening.decisions import reevaluate
from screening.models import Decision
from screening.models import Submission
from screening.active_rules import require_ruleset

from .patient import DEFAULT_ANSWERS
from .patient import Patient
from .ruleset_files import rules_version

ITEM9_POSITIVE = {"phq9_9": "1"}


def submit(patient: Patient, *, no_medicines: bool = False, **overrides: dict[str, str]) -> str:
    """Walk the whole wizard with the default answers changed by ``overrides``; return the done page."""
    if no_medicines:
        patient.answer_all(overrides, until="treatments")
        trials = [name for name in DEFAULT_ANSWERS["treatments"] if name.startswith("medications-")]
        assert patient.answer("treatments", drop=trials).status_code == 302
        assert patient.answer("history").status_code == 302
        assert patient.answer("contact").status_code == 302
    else:
        patient.answer_all(overrides)
    assert patient.submit().headers["Location"] == "/intake/done"
    return patient.get("/intake/done").get_data(as_text=True)


def decisions(app: Flask) -> list[Decision]:
    """Return every decision, oldest first."""
    with new_session(app) as session:
        return list(session.scalars(sa.select(Decision).order_by(Decision.id)))


def test_fibromyalgia_with_trd_is_a_candidate_with_a_full_trace(app: Flask, patient: Patient) -> None:
    html = submit(patient)
    [decision] = decisions(app)
    with new_session(app) as session:
        submission = session.scalars(sa.select(Submission)).one()
    assert decision.submission_id == submission.id
    assert (decision.outcome, decision.priority, decision.needs_action) == ("candidate", 3, True)
    assert decision.ruleset_version == rules_version()
    assert decision.form_version == submission.form_version
    assert decision.engine_version.startswith("screening-rules/1")
    fired = {entry["rule"]: entry for entry in decision.fired}
    assert set(fired) == {"candidate-trd", "fibromyalgia-criteria", "flag-insomnia", "flag-foundations"}
    assert fired["candidate-trd"]["facts"] == {"trd": True, "phq9": 15}
    assert fired["candidate-trd"]["description"].startswith("Treatment-resistant depression")
    assert decision.facts["adequate_failed_trials"] == 2 and decision.facts["fibromyalgia_acr2016"] is True
    assert [trial["counts"] for trial in decision.trials] == [True, True]
    assert {note["audience"] for note in decision.notes} == {"patient", "physician"}
    assert decision.error is None
    assert "A physician will review your answers" in html
    assert "not an offer of treatment" in html
    assert "Sleep treatment, such as cognitive behavioural therapy for insomnia" in html  # ISI 16: patient note
    assert "Meets the intake TRD definition" not in html  # physician notes stay with physicians


def test_fibromyalgia_alone_gets_the_candid_counseling_note(app: Flask, patient: Patient) -> None:
    html = submit(patient, no_medicines=True)
    [decision] = decisions(app)
    assert decision.outcome == "counseling" and decision.needs_action is False
    for phrase in ("preliminary", "short-lived", "Graded exercise", "sleep", "cognitive behavioural therapy"):
        assert phrase in html
    assert "ineligible" not in html.lower()


def test_item9_gives_the_safety_outcome_with_crisis_resources_first(app: Flask, patient: Patient) -> None:
    html = submit(patient, mood=ITEM9_POSITIVE)
    [decision] = decisions(app)
    assert (decision.outcome, decision.priority) == ("safety", 1)
    assert html.index("988") < html.index("reference-code")
    assert decision.notes[0]["audience"] == "patient"  # the safety rule's own patient note is kept ...
    assert decision.notes[0]["text"] not in html  # ... but the page says it once, in the crisis help
    assert html.count("Call or text") == 1
    assert "ineligible" not in html.lower() and "not a candidate" not in html.lower()


def test_evaluation_failure_of_a_safety_submission_is_still_safety_with_the_error_recorded(
    app: Flask, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("rule arithmetic failed")

    monkeypatch.setattr("screening.decisions.screen_answers", broken)
    html = submit(patient, mood=ITEM9_POSITIVE)
    [decision] = decisions(app)
    assert (decision.outcome, decision.priority, decision.needs_action) == ("safety", 1, True)
    assert decision.error == "ZeroDivisionError: rule arithmetic failed"
    assert [note["rule"] for note in decision.notes] == ["safety-self-harm", "safety-self-harm"]
    assert decision.ruleset_version == rules_version()
    assert "A clinician will review your answers" in html
    assert html.index("988") < html.index("reference-code")  # crisis resources whatever failed
    with new_session(app) as session:
        assert session.scalars(sa.select(Submission)).one().safety_flag is True


def test_no_active_rule_set_is_still_safety_and_shows_crisis_resources(
    app: Flask, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("screening.patient.intake.views.active_ruleset", lambda: None)
    html = submit(patient, mood=ITEM9_POSITIVE)
    [decision] = decisions(app)
    assert (decision.outcome, decision.priority) == ("safety", 1) and decision.ruleset_version is None
    assert decision.error == "NoRuleSet: no valid rule set is active"
    assert "A clinician will review your answers" in html and "911" in html


def test_reevaluation_adds_a_decision_and_keeps_the_first(app: Flask, patient: Patient) -> None:
    submit(patient)
    [first] = decisions(app)
    with app.app_context(), new_session(app) as session:
        submission = session.scalars(sa.select(Submission)).one()
        reevaluate(session, submission, require_ruleset(app), now=first.created_at, actor="cli")
        session.commit()
    again = decisions(app)
    assert len(again) == 2 and again[0].id == first.id
    assert again[0].outcome == first.outcome and again[0].fired == first.fired
    assert again[1].outcome == "candidate"


def test_the_submission_carries_the_outcome_for_the_queue(app: Flask, patient: Patient) -> None:
    submit(patient, mood=ITEM9_POSITIVE)
    with new_session(app) as session:
        submission = session.scalars(sa.select(Submission)).one()
    assert (submission.outcome, submission.priority, submission.needs_action) == ("safety", 1, True)
    assert submission.status == "open" and submission.assignee_id is None
