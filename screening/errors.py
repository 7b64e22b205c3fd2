"""The exceptions the domain raises; ``screening.errorpages`` maps them to HTTP in one place."""

from __future__ import annotations

from typing import ClassVar


class ScreeningError(Exception):
    """A failure the application can explain to the person who caused it."""

    #: The HTTP status the web layer answers with.
    http_status: ClassVar[int] = 400
    #: A short page title for the web layer.
    title: ClassVar[str] = "Something is wrong with this request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(ScreeningError):
    """The user may not take this step: their role, or a rule such as the two-person rule."""

    http_status = 403
    title = "You cannot take this step"


class NotFound(ScreeningError):
    """Nothing matches what the request names."""

    http_status = 404
    title = "We could not find this"


class Conflict(ScreeningError):
    """What the request acts on changed meanwhile, or is not in a state that allows the step."""

    http_status = 409
    title = "This has changed"


class Invalid(ScreeningError):
    """The input is not acceptable."""

    http_status = 422
    title = "Please check what you entered"


class AnswersError(ScreeningError):
    """An answers document breaks the canonical shape; ``field`` names where."""

    http_status = 422
    title = "Some answers are not valid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class DraftNotFound(ScreeningError):
    """No saved form matches the link or the browser session."""

    http_status = 404
    title = "We could not find a saved form for this link"


class DraftExpired(ScreeningError):
    """The saved form existed but has expired and can no longer be resumed."""

    http_status = 410
    title = "This saved form has expired"


class StepNotReady(ScreeningError):
    """A step was asked for before the steps it depends on were answered."""

    http_status = 409
    title = "Please answer the earlier questions first"
