"""Serve the app under gunicorn: ``gunicorn screening.wsgi:app``. Production settings unless told otherwise."""

import os

from screening import create_app
from screening.rules import require_ruleset

os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
app = create_app()
# Refuse to start, listing every error, when neither the rule files nor an earlier version are valid.
require_ruleset(app)
