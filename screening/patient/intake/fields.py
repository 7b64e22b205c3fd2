"""WTForms fields derived from instrument definitions and vocabulary tables."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any
from typing import Iterator
from typing import Mapping

from markupsafe import Markup
from markupsafe import escape
from wtforms import Choice
from wtforms import Field
from wtforms import FieldList
from wtforms import Form
from wtforms import FormField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import widgets
from wtforms.fields import DecimalField
from wtforms.validators import InputRequired
from wtforms.validators import StopValidation
from wtforms.validators import ValidationError

from ...instruments.base import Instrument
from ...instruments.base import Item

CHOOSE_ONE = "Choose one of the answers."
NOT_LISTED = "Choose one of the answers listed."
YES_NO = (SelectChoice("yes", "Yes"), SelectChoice("no", "No"))


class ChoiceField(RadioField):
    """A radio group whose error for a value that is not offered reads plainly.

    ``summary_label``, when given, names the group in the error summary instead of its full wording
    ("Question 9" rather than the self-harm item's text).
    """

    def __init__(self, *args: Any, summary_label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.summary_label = summary_label

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the posted value; one that cannot be read is not among the answers."""
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(NOT_LISTED) from error

    def pre_validate(self, form: Form) -> None:
        """Reject a value that is not one of the offered choices."""
        if self.data is None and not self.raw_data:
            return
        if self.process_errors:  # unreadable: process_formdata has said so already
            raise StopValidation()
        if not any(value == self.data for value, *_ in self.iter_choices()):
            raise ValidationError(NOT_LISTED)


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes, one per choice."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the ticked values, each once even if it was posted twice."""
        super().process_formdata(list(dict.fromkeys(valuelist)))

    def pre_validate(self, form: Form) -> None:
        """Reject values that are not offered, naming them."""
        offered = {value for value, *_ in self.iter_choices()}
        unknown = [value for value in self.data or () if value not in offered]
        if unknown:
            raise ValidationError(f"{', '.join(map(str, unknown))} is not one of the answers listed.")


class KeptOptionsSelect(widgets.Select):
    """WTForms' select widget, writing the same markup, with each option's markup built once and kept.

    A list of medicines or states never changes, so a page only picks each option's selected or unselected
    markup instead of building and escaping its attributes again (WTForms' ``html_params`` per option was the
    dearest part of the treatments and contact pages).
    """

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Markup:
        """Return an option's markup, kept for a plain choice (no per-option attributes)."""
        if kwargs or choice.render_kw or type(choice.value) is not str or type(choice.label) is not str:
            return super().render_option(choice, **kwargs)
        return _plain_option(choice.value, choice.label, bool(choice.selected))


@lru_cache(maxsize=1024)
def _plain_option(value: str, label: str, selected: bool) -> Markup:
    """Return the markup WTForms writes for one plain option (only offered choices come here: bounded)."""
    return widgets.Select.render_option(Choice(value, label, selected, None))


class OptionListField(SelectField):
    """A drop-down list whose options never change (medicines, states): their markup is kept."""

    widget = KeptOptionsSelect()


class WholeNumberField(IntegerField):
    """An integer field for which a huge number is out of range rather than a crash.

    NumberRange converts the value to float, which overflows for integers of 309 digits or more.
    """

    LARGEST = 10**15

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the posted whole number; one too large to compare reads as infinitely large."""
        super().process_formdata(valuelist)
        if self.data is not None and abs(self.data) > self.LARGEST:
            self.data = math.inf if self.data > 0 else -math.inf


class FiniteDecimalField(DecimalField):
    """A decimal field that reads "NaN", "sNaN" and "Infinity" as not a number."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the posted number; refuse the special values Decimal would accept."""
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


class RowList(FieldList):
    """A list of sub-forms whose row numbers must be plain ASCII digits."""

    def _extract_indices(self, prefix: str, formdata: Any) -> Iterator[int]:
        """Yield the row numbers posted; names such as "medications-²-drug" are ignored."""
        offset = len(prefix) + 1
        for name in formdata:
            if name.startswith(prefix):
                index = name[offset:].split(self._separator, 1)[0]
                if index.isascii() and index.isdigit():
                    yield int(index)


def choices_from(table: Mapping[str, str]) -> list[SelectChoice]:
    """Return radio or checkbox choices for a code -> label table."""
    return [SelectChoice(code, label) for code, label in table.items()]


def item_field(instrument: Instrument, item: Item, **kwargs: Any) -> ChoiceField:
    """Return the radio group that asks one instrument item."""
    options = instrument.options_for(item)
    return ChoiceField(
        item.text,
        choices=[SelectChoice(o.points, o.label) for o in options],
        coerce=int,
        validators=[InputRequired(CHOOSE_ONE)],
        **kwargs,
    )


def instrument_form(instrument: Instrument, *instruments: Instrument) -> type[Form]:
    """Return a form class with one radio group per item of the given instruments.

    A form of one questionnaire names its items in the error summary by the number shown beside them; with
    several questionnaires the numbers repeat, so the items keep their wording there.
    """
    attributes: dict[str, Any] = {}
    for each in (instrument, *instruments):
        for number, item in enumerate(each.items, 1):
            summary_label = None if instruments else f"Question {number}"
            attributes[item.key] = item_field(each, item, summary_label=summary_label)
    return type(f"{instrument.key.title()}Form", (Form,), attributes)


def error_list(form: Form) -> list[tuple[str, str, str]]:
    """Return (field id, label for the summary, message) for every error, nested rows included."""
    return [error for field in form for error in _field_errors(field)]


def _field_errors(field: Field, row: str = "") -> Iterator[tuple[str, str, str]]:
    """Yield the errors of one field, descending into lists and sub-forms; a row's title heads its labels."""
    if isinstance(field, FieldList):
        for number, entry in enumerate(field.entries, 1):
            yield from _field_errors(entry, _row_title(entry, number))
    elif isinstance(field, FormField):
        for subfield in field.form:
            yield from _field_errors(subfield, row)
    else:
        label = getattr(field, "summary_label", None) or field.label.text
        label = f"{row}: {label}" if row else label
        for message in field.errors:
            yield field.id, label, message


def _row_title(entry: Field, number: int) -> str:
    """Return the title of row ``number`` of a list, when its sub-form names its rows ("Medicine 2 (...)")."""
    title = getattr(getattr(entry, "form", None), "row_title", None)
    return title(number) if callable(title) else ""


def aria(field: Field, **attributes: Any) -> dict[str, Any]:
    """Return HTML attributes for ``field`` that tie its hint and error message to it."""
    if field.errors:
        attributes["aria-invalid"] = "true"
    described = described_by(field)
    if described:
        attributes["aria-describedby"] = described
    return attributes


def described_by(field: Field) -> str:
    """Return the ids of the hint and the error message ``hint_and_errors`` writes for ``field``, or ""."""
    hint = f"{field.id}-hint" if field.description else ""
    error = f"{field.id}-error" if field.errors else ""
    return f"{hint} {error}" if hint and error else hint or error


def hint_and_errors(field: Field) -> Markup:
    """Return a field's hint and its error messages, each with the id ``described_by`` names."""
    field_id = escape(field.id)
    hint = f'<p class="hint" id="{field_id}-hint">{escape(field.description)}</p>' if field.description else ""
    errors = (
        f'\n  <p class="field-error" id="{field_id}-error"><span class="visually-hidden">Error:</span> '
        f"{Markup(' ').join(field.errors)}</p>\n  "
        if field.errors
        else ""
    )
    return Markup(f"\n  {hint}\n  {errors}\n")


def render_choices(
    field: Field, legend: str | None = None, number: int | None = None, classes: str = "choices"
) -> Markup:
    """Return a radio or checkbox group: its fieldset, legend (numbered when ``number``), hint, errors and choices.

    Written in Python rather than as a template macro: a questionnaire page shows a dozen groups, and each
    macro call costs more than the markup it writes.
    """
    field_id = escape(field.id)
    invalid = " field-invalid" if field.errors else ""
    described = described_by(field)
    describing = f' aria-describedby="{escape(described)}"' if described else ""
    numbered = f'<span class="item-number">{escape(number)}.</span> ' if number else ""
    return Markup(
        f'\n  \n  <fieldset id="{field_id}" class="field {escape(classes)}{invalid}" tabindex="-1"{describing}>'
        f"\n    <legend>{numbered}{escape(legend or field.label.text)}</legend>"
        f"\n    {hint_and_errors(field)}"
        f'\n    <ul class="options">\n      {choice_items(field)}\n    </ul>\n  </fieldset>\n'
    )


#: What separates the options of a group in the page (render_choices' indentation, kept byte for byte).
_OPTION_BREAK = "\n      "


def choice_input(field: Field, index: int, choice: Any, invalid: bool = False) -> Markup:
    """Return one choice of a radio or checkbox group and its label, as WTForms' option widget writes them.

    The same attributes in the same order, from the choice itself: no field object is built per option, and no
    template loop escapes each part (a questionnaire page has dozens of options).
    """
    return Markup(_input_and_label(_group_attributes(field), index, choice, invalid))


def choice_items(field: Field) -> Markup:
    """Return the ``<li>`` of every choice of a radio or checkbox group, as ``render_choices`` writes them."""
    group, invalid = _group_attributes(field), bool(field.errors)
    return Markup(
        "".join(
            f"{_OPTION_BREAK}<li>{_input_and_label(group, index, choice, invalid)}</li>{_OPTION_BREAK}"
            for index, choice in enumerate(field.iter_choices())
        )
    )


def _group_attributes(field: Field) -> tuple[str, str]:
    """Return a group's escaped id, and the attributes every one of its inputs shares, escaped once."""
    required = " required" if field.flags.required else ""
    return escape(field.id), f' name="{escape(field.name)}"{required} type="{escape(field.option_widget.input_type)}"'


def _input_and_label(group: tuple[str, str], index: int, choice: Any, invalid: bool) -> str:
    """Return the markup of one choice of a group whose id and shared attributes are ``group``."""
    group_id, shared = group
    option = f"{group_id}-{index}"
    aria_invalid = ' aria-invalid="true"' if invalid else ""
    checked = " checked" if choice.selected else ""
    return (
        f'<input{aria_invalid}{checked} id="{option}"{shared} value="{escape(choice.value)}"> '
        f'<label for="{option}">{escape(choice.label or choice.value)}</label>'
    )
