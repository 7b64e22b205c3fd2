"""The safety confirmation page reads in one calm order, and the PHQ-9 error summary names questions by number.

The confirmation after PHQ-9 item 9 above 0: the title first, then the crisis help once, then what happens
next, with no success panel straight after the crisis help and headings in order. The error summary of an
empty PHQ-9 step links each question by its number rather than repeating its wording.
"""

from __future__ import annotations

import re
from itertools import pairwise

from flask import Flask

from screening.engine.safety import SAFETY_PATIENT_NOTE
from screening.instruments import PHQ9

from .patient import Patient
from .patient import page
from .patient import step_path

HEADING = re.compile(r"<h([1-6])\b")
CRISIS_WORDING = "You told us you have had thoughts that you would be better off dead"


def _safety_confirmation(patient: Patient) -> str:
    """Send the form with item 9 above 0 and return the main part of the confirmation page."""
    patient.answer_all({"mood": {"phq9_9": "2"}})
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    return html[html.index("<main") : html.index("</main>")]


def test_the_safety_confirmation_starts_with_its_title_then_the_crisis_help(app: Flask, patient: Patient) -> None:
    main = _safety_confirmation(patient)
    h1 = main.index("<h1>We have received your answers</h1>")
    crisis = main.index('<section class="crisis"')
    assert h1 < crisis < main.index('id="reference-code"') < main.index("What happens next")
    assert "<p" not in main[:h1] and "<p" not in main[h1:crisis]  # the crisis help follows the title at once
    assert main.index('href="tel:988"', crisis) < main.index('href="tel:911"', crisis)


def test_the_safety_confirmation_says_the_crisis_text_once(app: Flask, patient: Patient) -> None:
    main = _safety_confirmation(patient)
    assert main.count(CRISIS_WORDING) == 1
    assert SAFETY_PATIENT_NOTE not in main


def test_no_success_panel_follows_the_crisis_help(app: Flask, patient: Patient) -> None:
    main = _safety_confirmation(patient)
    after_crisis = main[main.index("</section>", main.index('<section class="crisis"')) :]
    assert "panel-confirmation" not in after_crisis


def test_the_safety_confirmation_headings_are_in_order(app: Flask, patient: Patient) -> None:
    levels = [int(level) for level in HEADING.findall(_safety_confirmation(patient))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(later - earlier <= 1 for earlier, later in pairwise(levels)), levels


def test_the_confirmation_without_safety_keeps_its_title_and_reference(app: Flask, patient: Patient) -> None:
    patient.answer_all()
    patient.submit()
    html = patient.get("/intake/done").get_data(as_text=True)
    main = html[html.index("<main") :]
    assert 'class="crisis' not in main
    assert main.index("<h1>We have received your answers</h1>") < main.index('id="reference-code"')


def test_the_empty_phq9_summary_names_each_question_by_number(patient: Patient) -> None:
    patient.answer_all(until="mood")
    shown = page(patient.post(step_path("mood"), {}))
    assert shown.status == 422
    expected = [(f"#{item.key}", f"Question {n}: Choose one of the answers.") for n, item in enumerate(PHQ9.items, 1)]
    assert shown.summary_links == expected
    summary = shown.html[shown.html.index('class="error-summary"') : shown.html.index("</ul>")]
    assert PHQ9.items[8].text not in summary
