"""The task queues: two huey instances per app; ``screening.tasks`` is what the consumers run.

Urgent alerts have a queue and a consumer of their own, so they never wait behind a dry run of the
rules or any other long task: ``huey_consumer screening.tasks.alerts`` sends the alert e-mails and
nothing else, ``huey_consumer screening.tasks.huey`` runs the dry runs. Both live in the storage of
HUEY_URL under their own queue names. Each consumer builds the app with ``create_app()`` (production
settings unless SCREENING_ENVIRONMENT says otherwise, like ``wsgi.py``), so it reads the same instance
config and environment as the web workers. Tasks receive only ids and open their own database session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from huey import Huey
from huey import RedisHuey
from huey import SqliteHuey

from .config import ConfigError

EXTENSION_KEY = "screening.huey"
REGISTRARS_KEY = "screening.huey.registrars"
Registrar = Callable[[Huey, Flask], None]
ALERT_EXTENSION_KEY = "screening.huey.alerts"
#: The queue of dry runs and other work (``huey_consumer screening.tasks.huey``).
QUEUE_NAME = "screening"
#: The queue of urgent alerts only (``huey_consumer screening.tasks.alerts``).
ALERT_QUEUE_NAME = "screening-alerts"
#: What each consumer is started with, as ``huey_consumer`` names it; README "Production" step 4.
WORK_CONSUMER = "screening.tasks.huey"
ALERT_CONSUMER = "screening.tasks.alerts"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SQLITE_PREFIX = "sqlite:///"

_lock = threading.Lock()


def add_tasks(app: Flask, queue: str, register: Registrar) -> None:
    """Have ``register(huey, app)`` called when the app's queue named ``queue`` is made: a feature's ``init_app``.

    The features register their tasks this way, so this module imports none of them.
    """
    app.extensions.setdefault(REGISTRARS_KEY, {}).setdefault(queue, []).append(register)


def huey_for(app: Flask) -> Huey:
    """Return the app's queue of dry runs and other work, creating it and registering its tasks on first use."""
    return _queue_for(app, EXTENSION_KEY, QUEUE_NAME)


def alert_huey_for(app: Flask) -> Huey:
    """Return the app's queue of urgent alerts, creating it and registering its tasks on first use."""
    return _queue_for(app, ALERT_EXTENSION_KEY, ALERT_QUEUE_NAME)


def _queue_for(app: Flask, key: str, name: str) -> Huey:
    """Return the app's queue ``name`` kept under ``key``, creating it and registering its tasks on first use."""
    # Tasks keep the app they are registered with: never the current_app proxy, which dies with the request.
    app = getattr(app, "_get_current_object", lambda: app)()
    with _lock:
        huey: Huey | None = app.extensions.get(key)
        if huey is None:
            huey = create_huey(app.config["HUEY_URL"], immediate=is_immediate(app), name=name)
            for register in app.extensions.get(REGISTRARS_KEY, {}).get(name, ()):
                register(huey, app)
            app.extensions[key] = huey
    return huey


def is_immediate(app: Flask) -> bool:
    """Return True when tasks run inside the caller (HUEY_IMMEDIATE, or TESTING when it is unset)."""
    setting = app.config.get("HUEY_IMMEDIATE")
    return bool(app.testing if setting is None else setting)


def create_huey(url: str, *, immediate: bool, name: str = QUEUE_NAME) -> Huey:
    """Return the queue ``name`` on SQLite ("sqlite:///PATH") or Redis ("redis://host:port/db").

    Queues of different names share the file or the Redis database: huey keys everything by the name.
    """
    if url.startswith(REDIS_SCHEMES):
        return RedisHuey(name, url=url, immediate=immediate)
    if url.startswith(SQLITE_PREFIX):
        filename = url.removeprefix(SQLITE_PREFIX)
        if not immediate:  # immediate mode keeps its queue in memory and never opens the file
            Path(filename).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name, filename=filename, immediate=immediate)
    raise ConfigError(f"HUEY_URL must start with {SQLITE_PREFIX!r} or 'redis://', not {url!r}")
