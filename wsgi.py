"""Serve the app from a checkout: ``gunicorn wsgi:app``, the same app as ``gunicorn screening.wsgi:app``."""

from screening.wsgi import app

__all__ = ["app"]
