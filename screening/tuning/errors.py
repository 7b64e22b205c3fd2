"""What can go wrong while tuning rules; each maps to an HTTP status in one place."""

from __future__ import annotations

from ..errors import ScreeningError


class TuningError(ScreeningError):
    """A rule-tuning request that cannot be carried out as asked."""

    http_status = 400
    title = "This change to the rules could not be made"


class TuningNotFound(TuningError):
    """No draft, file, version or dry run matches."""

    http_status = 404
    title = "We could not find this"


class TuningForbidden(TuningError):
    """The user may not take this step (wrong role, or the two-person rule)."""

    http_status = 403
    title = "You cannot take this step"


class TuningConflict(TuningError):
    """The draft changed meanwhile, or is not in a state that allows the step."""

    http_status = 409
    title = "This draft has changed"


class TuningInvalid(TuningError):
    """The input is not acceptable: a bad file name, a title too long, a draft that fails its checks."""

    http_status = 422
    title = "Please check what you entered"


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
