"""What can go wrong when a physician works the queue: the shared kinds of ``screening.errors``, with its titles."""

from __future__ import annotations

from ..errors import Conflict
from ..errors import Forbidden
from ..errors import Invalid
from ..errors import NotFound
from ..errors import ScreeningError


class ReviewError(ScreeningError):
    """A review request that cannot be carried out as asked."""

    title = "This review action could not be carried out"


class ReviewForbidden(Forbidden, ReviewError):
    """The user may not review submissions (not a physician, or disabled)."""

    title = "Only physicians can review submissions"


class ReviewNotFound(NotFound, ReviewError):
    """No submission, or no status link, matches."""

    title = "We could not find this submission"


class ReviewConflict(Conflict, ReviewError):
    """The submission is not in a state that allows the action (claimed by another, decided, changed meanwhile)."""

    title = "This submission has changed"


class ReviewInvalid(Invalid, ReviewError):
    """The action's input is not acceptable: unknown decision, missing or too long note, bad page link."""
