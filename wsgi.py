"""Serve the app under gunicorn: ``gunicorn wsgi:app``. Production settings unless told otherwise."""

import os

from screening import create_app
from screening.rules import require_ruleset_unless_unreachable

os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
app = create_app()
# Refuse to start, listing every error, when neither the rule files nor an earlier version are valid.
# An unreachable database does not stop the start: the rule set is checked again once it answers.
require_ruleset_unless_unreachable(app)
