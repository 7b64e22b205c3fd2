"""gunicorn's settings for ``gunicorn wsgi:app``, read from the directory gunicorn starts in: the package's own."""

from screening.gunicorn_conf import on_starting

__all__ = ["on_starting"]
