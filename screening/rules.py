"""The app's rule set registry: one per process, reloaded when the rule files change."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask import Flask
from flask import current_app

from . import db
from .ruleset.model import RuleSet
from .ruleset.registry import Registry

EXTENSION_KEY = "screening.rules"


def init_app(app: Flask) -> None:
    """Give the app a registry watching its rules directory."""
    app.extensions[EXTENSION_KEY] = Registry(
        Path(app.config["RULES_DIR"]),
        lambda: db.new_session(app),
        check_seconds=float(app.config["RULES_CHECK_SECONDS"]),
    )


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
