"""What the task consumers run: ``huey_consumer screening.tasks.alerts`` and ``huey_consumer screening.tasks.huey``.

The top of the import graph, as ``wsgi.py`` is for the web workers: it builds the app once with
``create_app()`` (production settings unless SCREENING_ENVIRONMENT says otherwise), whose features
registered their tasks on the queues of ``screening.queues``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from . import create_app
from .active_rules import mark_serving
from .queues import alert_huey_for
from .queues import huey_for

_consumer_app: Flask | None = None


def consumer_app() -> Flask:
    """Return the app the consumer's tasks run against, creating it once."""
    global _consumer_app
    if _consumer_app is None:
        os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
        _consumer_app = create_app()
        mark_serving(_consumer_app)  # a consumer serves tasks: the rules home lists it among the workers
    return _consumer_app


def __getattr__(name: str) -> Any:
    """Build ``huey`` and ``alerts`` (what the two consumers run) only when they are asked for."""
    if name == "huey":
        return huey_for(consumer_app())
    if name == "alerts":
        return alert_huey_for(consumer_app())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
