"""Headers every response carries, and the logging filter that keeps secrets out of logs."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Any
from typing import Callable

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

#: Browsers send a Referer only to this site, never to another one. Over HTTPS, Flask-WTF's CSRF check
#: (WTF_CSRF_SSL_STRICT, kept on) refuses a form post whose Referer is missing or names another site, so
#: "no-referrer" on every page would refuse every post; "same-origin" keeps that check and still sends
#: nothing to the crisis line's site or any other link target.
REFERRER_POLICY = "same-origin"
#: The pages whose address is a secret (a resume or status link token) send no Referer at all, not even to
#: this site: no request the browser makes from them carries the token into a request log.
TOKEN_PAGE_REFERRER_POLICY = "no-referrer"
#: The endpoints whose address carries a resume or status link token.
TOKEN_ENDPOINTS = frozenset({"intake.resume", "status.show"})

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": REFERRER_POLICY,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Path segments that are secrets (resume and status link tokens) and must never reach a log line: the
#: segment runs to the next space, quote, slash, query or fragment, so a percent-encoded token goes too.
_TOKEN_IN_PATH = re.compile(r"(/resume/|/status/)[^\s\"'/?#]+")

#: The loggers that write request lines: the development server's, and gunicorn's access and error logs.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def init_app(app: Flask) -> None:
    """Add the security headers to every response and redact tokens from request logs."""
    app.after_request(add_security_headers)
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def add_security_headers(response: Response) -> Response:
    """Set the security headers; pages built per request are never cached."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint in TOKEN_ENDPOINTS:
        response.headers["Referrer-Policy"] = TOKEN_PAGE_REFERRER_POLICY
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
        elif isinstance(record.args, dict):
            # gunicorn's access log passes its atoms (request line, path, Referer, headers) as a mapping;
            # change it in place, so its own lookup rules for missing atoms still apply.
            for key, value in record.args.items():
                if isinstance(value, str):
                    record.args[key] = redact(value)
        return True


class ValidClientAddress:
    """WSGI middleware: keep REMOTE_ADDR only when it is an IP address (normalised), else drop it.

    Behind reverse proxies, ProxyFix takes the client address from X-Forwarded-For, which a client reaching
    the app around the proxy can fill with anything; this runs after it, so the audit trail and the sign-in
    rate limit only ever see a real address or none.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Validate the address, then call the wrapped app."""
        address = client_address(environ.get("REMOTE_ADDR"))
        if address is None:
            environ.pop("REMOTE_ADDR", None)
        else:
            environ["REMOTE_ADDR"] = address
        return self.app(environ, start_response)


def client_address(value: object) -> str | None:
    """Return ``value`` as a normalised IP address, or None when it is not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        return None
