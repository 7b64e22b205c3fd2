"""The task queue: one huey instance per app, and the one the consumer runs.

Start the consumer beside the web app with ``huey_consumer screening.tasks.huey``; it builds the app
with ``create_app()`` (production settings unless SCREENING_ENVIRONMENT says otherwise, like
``wsgi.py``), so it reads the same instance config and environment as the web workers. Tasks receive
only ids and open their own database session.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey import RedisHuey
from huey import SqliteHuey

from .config import ConfigError

EXTENSION_KEY = "screening.huey"
QUEUE_NAME = "screening"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SQLITE_PREFIX = "sqlite:///"

_lock = threading.Lock()
_consumer_app: Flask | None = None


def huey_for(app: Flask) -> Huey:
    """Return the app's task queue, creating it and registering its tasks on first use."""
    # Tasks keep the app they are registered with: never the current_app proxy, which dies with the request.
    app = getattr(app, "_get_current_object", lambda: app)()
    with _lock:
        huey: Huey | None = app.extensions.get(EXTENSION_KEY)
        if huey is None:
            huey = create_huey(app.config["HUEY_URL"], immediate=is_immediate(app))
            _register_tasks(huey, app)
            app.extensions[EXTENSION_KEY] = huey
    return huey


def is_immediate(app: Flask) -> bool:
    """Return True when tasks run inside the caller (HUEY_IMMEDIATE, or TESTING when it is unset)."""
    setting = app.config.get("HUEY_IMMEDIATE")
    return bool(app.testing if setting is None else setting)


def create_huey(url: str, *, immediate: bool) -> Huey:
    """Return a huey on SQLite ("sqlite:///PATH") or Redis ("redis://host:port/db")."""
    if url.startswith(REDIS_SCHEMES):
        return RedisHuey(QUEUE_NAME, url=url, immediate=immediate)
    if url.startswith(SQLITE_PREFIX):
        filename = url.removeprefix(SQLITE_PREFIX)
        if not immediate:  # immediate mode keeps its queue in memory and never opens the file
            Path(filename).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=filename, immediate=immediate)
    raise ConfigError(f"HUEY_URL must start with {SQLITE_PREFIX!r} or 'redis://', not {url!r}")


def _register_tasks(huey: Huey, app: Flask) -> None:
    """Register every task of the app on ``huey``; imported here because those modules enqueue through us."""
    from . import alerts
    from .tuning import backtests

    alerts.register_tasks(huey, app)
    backtests.register_tasks(huey, app)


def consumer_app() -> Flask:
    """Return the app the consumer's tasks run against, creating it once."""
    global _consumer_app
    if _consumer_app is None:
        from . import create_app

        os.environ.setdefault("SCREENING_ENVIRONMENT", "production")
        _consumer_app = create_app()
    return _consumer_app


def __getattr__(name: str) -> Any:
    """Build ``huey`` (for ``huey_consumer screening.tasks.huey``) only when it is asked for."""
    if name == "huey":
        return huey_for(consumer_app())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
