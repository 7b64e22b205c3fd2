"""Drop-down lists whose options' markup is kept write exactly what WTForms' own select widget writes."""

from __future__ import annotations

import pytest
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms import SelectChoice
from wtforms import widgets

from screening.patient.intake.contact_form import ContactForm
from screening.patient.intake.fields import KeptOptionsSelect
from screening.patient.intake.fields import OptionListField
from screening.patient.intake.forms import MedicationTrialForm


def _as_wtforms_writes(field: OptionListField, **attributes: str) -> str:
    """Return the field as WTForms' plain select widget renders it (the field's own attributes included)."""
    field.widget = widgets.Select()
    try:
        return str(field(**attributes))
    finally:
        del field.widget


@pytest.mark.parametrize("posted", ["", "sertraline", "other", "not-a-medicine"])
def test_the_medicine_list_is_written_as_wtforms_writes_it(posted: str) -> None:
    form = MedicationTrialForm(MultiDict({"drug": posted}))
    assert str(form.drug(class_="select")) == _as_wtforms_writes(form.drug, class_="select")
    if posted in {"sertraline", "other"}:
        assert f'<option selected value="{posted}">' in str(form.drug(class_="select"))


@pytest.mark.parametrize("posted", ["", "NY", "CA", "ny"])
def test_the_state_list_is_written_as_wtforms_writes_it(posted: str) -> None:
    form = ContactForm(MultiDict({"state": posted}))
    assert str(form.state(class_="select")) == _as_wtforms_writes(form.state, class_="select")


class _Awkward(Form):
    """Choices the kept markup must not take: labels to escape, Markup labels, per-option attributes."""

    pick = OptionListField(
        choices=[
            SelectChoice("a&b", "<b>bold</b> & co"),
            SelectChoice("m", Markup("<em>kept</em>")),
            SelectChoice("plain", "<em>kept</em>"),
            SelectChoice("x", "With attributes", render_kw={"data-x": "1"}),
        ]
    )
    #: The same value and text as a choice of ``pick``, but as text to escape rather than markup.
    same_text = OptionListField(choices=[SelectChoice("m", "<em>kept</em>")])


@pytest.mark.parametrize("posted", ["a&b", "m", "plain", "x"])
def test_escaping_markup_labels_and_option_attributes_are_kept_as_wtforms_writes_them(posted: str) -> None:
    form = _Awkward(MultiDict({"pick": posted}))
    written = str(form.pick())
    assert written == _as_wtforms_writes(form.pick)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in written
    assert "<em>kept</em>" in written and "&lt;em&gt;kept&lt;/em&gt;" in written  # same text, str and Markup
    assert 'data-x="1"' in written
    assert str(form.same_text()) == _as_wtforms_writes(form.same_text)
    assert "&lt;em&gt;kept&lt;/em&gt;" in str(form.same_text())


def test_the_select_widget_is_wtforms_own_with_kept_options() -> None:
    assert isinstance(OptionListField.widget, KeptOptionsSelect)
    assert isinstance(OptionListField.widget, widgets.Select)
