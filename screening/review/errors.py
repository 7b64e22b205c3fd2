"""What can go wrong when a physician works the queue; each maps to an HTTP status in one place."""

from __future__ import annotations

from ..errors import ScreeningError


class ReviewError(ScreeningError):
    """A review request that cannot be carried out as asked."""

    http_status = 400
    title = "This review action could not be carried out"


class ReviewForbidden(ReviewError):
    """The user may not review submissions (not a physician, or disabled)."""

    http_status = 403
    title = "Only physicians can review submissions"


class ReviewNotFound(ReviewError):
    """No submission, or no status link, matches."""

    http_status = 404
    title = "We could not find this submission"


class ReviewConflict(ReviewError):
    """The submission is not in a state that allows the action (claimed by another, decided, changed meanwhile)."""

    http_status = 409
    title = "This submission has changed"


class ReviewInvalid(ReviewError):
    """The action's input is not acceptable: unknown decision, missing or too long note, bad page link."""

    http_status = 422
    title = "Please check what you entered"
