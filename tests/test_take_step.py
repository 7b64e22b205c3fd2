"""errorpages.take_step: a clinic page's step commits, or rolls back and says why, on the page it redirects to."""

from __future__ import annotations

from unittest import mock

import pytest
from flask import Flask
from flask import get_flashed_messages
from sqlalchemy.exc import IntegrityError

from screening import errorpages
from screening.errors import Invalid
from screening.errors import NotFound
from screening.errors import ScreeningError


class StepRefused(ScreeningError):
    """The kind of error the feature under test says on its page."""


class StepGone(NotFound, StepRefused):
    """What the step acts on does not exist."""


class StepInvalid(Invalid, StepRefused):
    """The step's input is refused."""


def take(app: Flask, step: object) -> tuple[str, list[tuple[str, str]], mock.Mock]:
    """Take ``step`` in a request; return where it redirects, what it flashed and the session it used."""
    session = mock.Mock()
    with app.test_request_context("/", method="POST"):
        response = errorpages.take_step(session, step, back="/back", gone="/gone", refused=StepRefused)  # type: ignore[arg-type]
        return response.location, get_flashed_messages(with_categories=True), session


def raising(error: BaseException) -> object:
    """Return a step that raises ``error``."""

    def step() -> str:
        raise error

    return step


def test_a_step_that_succeeds_is_committed_and_said(app: Flask) -> None:
    location, flashed, session = take(app, lambda: "Done.")
    assert (location, flashed) == ("/back", [("message", "Done.")])
    session.commit.assert_called_once_with()
    session.rollback.assert_not_called()


def test_a_refused_step_is_rolled_back_and_its_message_shown(app: Flask) -> None:
    location, flashed, session = take(app, raising(StepInvalid("Give it a title.")))
    assert (location, flashed) == ("/back", [(errorpages.ERROR, "Give it a title.")])
    session.rollback.assert_called_once_with()
    session.commit.assert_not_called()


def test_a_step_on_something_gone_leads_away_from_its_page(app: Flask) -> None:
    location, flashed, session = take(app, raising(StepGone("There is no such draft.")))
    assert (location, flashed) == ("/gone", [(errorpages.ERROR, "There is no such draft.")])
    session.rollback.assert_called_once_with()


def test_a_step_that_loses_a_race_says_so(app: Flask) -> None:
    location, flashed, session = take(app, raising(IntegrityError("INSERT", {}, Exception("unique"))))
    assert (location, flashed) == ("/back", [(errorpages.ERROR, errorpages.AT_THE_SAME_MOMENT)])
    session.rollback.assert_called_once_with()


def test_another_feature_s_error_is_left_to_the_error_pages(app: Flask) -> None:
    with pytest.raises(Invalid):
        take(app, raising(Invalid("not this feature's")))
