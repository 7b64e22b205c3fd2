"""What can go wrong while tuning rules: the shared kinds of ``screening.errors``, with its titles."""

from __future__ import annotations

from ..errors import Conflict
from ..errors import Forbidden
from ..errors import Invalid
from ..errors import NotFound
from ..errors import ScreeningError


class TuningError(ScreeningError):
    """A rule-tuning request that cannot be carried out as asked."""

    title = "This change to the rules could not be made"


class TuningNotFound(NotFound, TuningError):
    """No draft, file, version or dry run matches."""


class TuningForbidden(Forbidden, TuningError):
    """The user may not take this step (wrong role, or the two-person rule)."""


class TuningConflict(Conflict, TuningError):
    """The draft changed meanwhile, or is not in a state that allows the step."""

    title = "This draft has changed"


class TuningInvalid(Invalid, TuningError):
    """The input is not acceptable: a bad file name, a title too long, a draft that fails its checks."""


class ReviewOutdated(TuningConflict):
    """An approval names a text of the draft other than the one it holds now: it changed after it was opened.

    Carries the draft and both versions (identifiers only), so the refusal can be audited once the
    refused step's transaction is rolled back.
    """

    def __init__(self, message: str, *, draft_id: int, reviewed: str, version: str) -> None:
        super().__init__(message)
        self.draft_id = draft_id
        self.reviewed = reviewed
        self.version = version
