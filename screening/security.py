"""Headers every response carries, and the logging filter that keeps secrets out of logs."""

from __future__ import annotations

import logging
import re

from flask import Flask
from flask import Response
from flask import request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The resume and status links carry a token in their path: never send it to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Path segments that are secrets (resume and status link tokens) and must never reach a log line.
_TOKEN_IN_PATH = re.compile(r"(/resume/|/status/)[A-Za-z0-9_\-]+")


def init_app(app: Flask) -> None:
    """Add the security headers to every response and redact tokens from request logs."""
    app.after_request(add_security_headers)
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactTokens())


def add_security_headers(response: Response) -> Response:
    """Set the security headers; pages built per request are never cached."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def redact(text: str) -> str:
    """Replace resume and status link tokens in ``text`` with a placeholder."""
    return _TOKEN_IN_PATH.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrite log records so that no resume or status link token is written out."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message and its arguments; always keep the record."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
