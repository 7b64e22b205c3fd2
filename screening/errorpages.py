"""Map every failure to a clear page with the right status; never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .db import is_unavailable
from .errors import NotFound
from .errors import ScreeningError

log = logging.getLogger(__name__)

#: What we tell a person for the HTTP errors they can run into.
MESSAGES = {
    400: "The form could not be read. Please go back and try again; the answers you saved are kept.",
    403: "You do not have access to this page.",
    404: "There is no page at this address.",
    405: "This page cannot be used that way. Please use the buttons on the form.",
    413: "What was sent is larger than this form accepts. Please shorten your answers and try again; "
    "the answers you saved earlier are kept.",
    429: "Too many requests. Please wait a minute and try again.",
    500: "Something went wrong on our side. Your saved answers are kept; please try again in a few minutes.",
}

CSRF_MESSAGE = (
    "This form has expired or was not sent from this site, so nothing was changed. "
    "Please go back, reload the page and send it again; the answers you saved earlier are kept."
)


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(ScreeningError, handle_screening_error)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(SQLAlchemyError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)


def render_error(status: int, title: str, message: str, *, crisis: str | None = None) -> tuple[str, int]:
    """Render the error page; ``crisis`` ("now" or "short") puts crisis resources in the page itself."""
    _ensure_url_adapter()
    page = render_template("errors/error.html", status=status, title=title, message=message, crisis=crisis)
    return page, status


def _ensure_url_adapter() -> None:
    """Give a request that named an untrusted host the URL adapter it lacks, so the page can link its parts."""
    context = request_ctx._get_current_object()  # type: ignore[attr-defined]
    if context.url_adapter is None:
        public = urlsplit(str(current_app.config["PUBLIC_BASE_URL"]))
        context.url_adapter = current_app.url_map.bind(public.netloc, url_scheme=public.scheme)


def handle_csrf(error: CSRFError) -> tuple[str, int]:
    """Explain a missing or stale CSRF token."""
    return render_error(400, "Please send the form again", CSRF_MESSAGE)


def handle_screening_error(error: ScreeningError) -> tuple[str, int]:
    """Show a domain error with its own status and message."""
    return render_error(error.http_status, error.title, error.message)


def handle_http(error: HTTPException) -> tuple[str, int, list[tuple[str, str]]] | HTTPException:
    """Show an HTTP error as a page, with the headers it carries (Allow on 405); non-errors pass through."""
    status = error.code or 500
    if status < 400:
        return error
    message = MESSAGES.get(status, error.description or MESSAGES[400])
    page, status = render_error(status, error.name, message)
    return page, status, _error_headers(error)


def _error_headers(error: HTTPException) -> list[tuple[str, str]]:
    """Return the headers an HTTP error defines for itself (Allow, Retry-After, ...), but its content type."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def handle_unexpected(error: Exception) -> tuple[str, int]:
    """Log the failure without request data and show a calm page."""
    log.error("unhandled %s", type(error).__name__, exc_info=error)
    return render_error(500, "Something went wrong", MESSAGES[500])


#: While the database is unavailable: what we tell a person, and when a client may try again (seconds).
DATABASE_TITLE = "The form is not available right now"
DATABASE_MESSAGE = (
    "We cannot reach our records at the moment. The answers you saved are kept; please try again in a few minutes."
)
UNSAVED_MESSAGE = (
    "Because of a problem on our side, the answers on this page could not be saved. "
    "The answers you saved before are kept; please try again in a few minutes."
)
DATABASE_RETRY_AFTER_SECONDS = 120


def handle_database_error(error: SQLAlchemyError, *, crisis_now: bool = False) -> tuple[str, int, dict[str, str]]:
    """Show a failure of the database on a page led by crisis resources; 503 and Retry-After when it is unavailable.

    ``crisis_now`` (the posted answers put PHQ-9 item 9 above 0) shows the full crisis section first.
    """
    unavailable = is_unavailable(error)
    if unavailable:
        log.warning("database unavailable (%s)", type(error).__name__)
        status, title, message = 503, DATABASE_TITLE, DATABASE_MESSAGE
    else:
        log.error("database error %s", type(error).__name__, exc_info=error)
        status, title, message = 500, "Something went wrong", MESSAGES[500]
    if crisis_now:
        page, status = render_error(status, title, UNSAVED_MESSAGE, crisis="now")
    else:
        page, status = render_error(status, title, message, crisis="short")
    return page, status, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)} if unavailable else {}


#: The flash category of a message that says a step was refused.
ERROR = "error"
#: What a step says when somebody else's change of the same thing won the race.
AT_THE_SAME_MOMENT = "Somebody changed this at the same moment; look at the page again and retry."


def take_step(
    session: orm.Session,
    step: Callable[[], str],
    *,
    back: str,
    gone: str,
    refused: type[ScreeningError],
    at_the_same_moment: str = AT_THE_SAME_MOMENT,
) -> Response:
    """Take one step of a clinic page and commit it, then say on the page redirected to what happened.

    ``step`` returns what was done. A ``refused`` error is said instead, and leads to ``gone`` when what the
    step acts on does not exist (any more); a conflicting write of somebody else's says ``at_the_same_moment``.
    """
    try:
        done = step()
        session.commit()
    except refused as error:
        session.rollback()
        flash(error.message, ERROR)
        if isinstance(error, NotFound):
            return redirect(gone)
    except IntegrityError:
        session.rollback()
        flash(at_the_same_moment, ERROR)
    else:
        flash(done)
    return redirect(back)
