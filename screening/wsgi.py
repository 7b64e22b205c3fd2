"""Serve the app under gunicorn: ``gunicorn screening.wsgi:app``. Production settings unless told otherwise."""

import os
import sys

from gunicorn.arbiter import Arbiter

from screening import create_app
from screening.dbcheck import serving_problem
from screening.active_rules import mark_serving
from screening.active_rules import require_ruleset_unless_unreachable

os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
app = create_app()
# Refuse to start, in one line, on a database that does not exist or is not migrated: gunicorn.conf.py checks once
# before the workers boot, this covers a server started without it. gunicorn stops on this exit status ("App failed
# to load") instead of booting worker after worker.
if (problem := serving_problem(app)) is not None:
    print(f"Error: {problem}", file=sys.stderr)
    sys.exit(Arbiter.APP_LOAD_ERROR)
# Refuse to start, listing every error, when neither the rule files nor an earlier version are valid.
# An unreachable database does not stop the start: the rule set is checked again once it answers.
mark_serving(app)
require_ruleset_unless_unreachable(app)
