"""The app's rule set registry: one per process, reloaded when the rule files change."""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask import Flask
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from .. import db
from ..engine import budget
from ..engine.model import RuleSet
from .registry import Registry

EXTENSION_KEY = "screening.active_rules"
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Give the app a registry watching its rules directory; set this process's budget for evaluating rule text.

    The registry counts as serving (listed on the rules home) from the first request the app handles, or from
    ``mark_serving`` (web and task entry points); command-line commands never make it so.
    """
    budget.configure(budget.Budget.from_config(app.config))
    rules = Registry(
        Path(app.config["RULES_DIR"]),
        lambda: db.new_session(app),
        check_seconds=float(app.config["RULES_CHECK_SECONDS"]),
    )
    app.extensions[EXTENSION_KEY] = rules
    app.before_request(rules.mark_serving)


def mark_serving(app: Flask) -> None:
    """Note that this process serves requests or tasks, so the rules home lists it among the workers."""
    registry(app).mark_serving()


def registry(app: Flask | None = None) -> Registry:
    """Return the registry of ``app`` (default: the current app)."""
    registry: Registry = (app or current_app).extensions[EXTENSION_KEY]
    return registry


def active_ruleset() -> RuleSet | None:
    """Return the rule set submissions are decided with now, reloading changed files first."""
    return registry().current(datetime.now(UTC))


def require_ruleset(app: Flask) -> RuleSet:
    """Activate the rule files (or the last good version); raise RulesUnavailable if neither exists."""
    return registry(app).require(datetime.now(UTC))


def require_ruleset_unless_unreachable(app: Flask) -> RuleSet | None:
    """Check the rule set before serving, as ``require_ruleset``; return None while the database is unreachable.

    A worker that (re)starts during a database outage must still boot and serve the pages that need
    no database; its registry retries at its next check (``RULES_CHECK_SECONDS``), on a later request.
    """
    try:
        return require_ruleset(app)
    except SQLAlchemyError as error:
        if db.reachable(app):
            raise  # the database answers: this is not an outage
        log.warning("database unreachable at start (%s); the rule set is checked again later", type(error).__name__)
        return None
