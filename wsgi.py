"""Serve the app under gunicorn: ``gunicorn wsgi:app``. Production settings unless told otherwise."""

import os

from screening import create_app

os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
app = create_app()
