"""Configuration defaults and the checks that run before the app serves anyone.

Order of precedence, lowest first: the defaults below, ``instance/config.py``,
``SCREENING_*`` environment variables, then the ``test_config`` passed to ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from . import clinic
from .contacts import crypto as contact_crypto
from .instance_files import kept_secret
from .contacts import details as contact_details

#: The value a SECRET_KEY has until a deployment sets one; never valid in production.
DEFAULT_SECRET_KEY = "change-me"

#: Production refuses a shorter secret: 32 bytes is what ``secrets.token_hex(16)`` or more gives.
MIN_SECRET_KEY_BYTES = 32
#: Words of the placeholders that documentation and examples use; a random key never contains them.
PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "default", "secret", "password", "your")
#: A random key of 32 or more characters uses many different ones; fewer is a typed-in or repeated word.
MIN_SECRET_KEY_DISTINCT = 10
#: How to make a good one, for the messages.
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_hex(32))'"

#: The secret generated for development is kept here, inside the instance folder.
SECRET_KEY_FILE = "secret_key"

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def bundled(name: str) -> Path:
    """Return the root folder ``name`` (templates, rules): the installed wheel's copy, else the checkout's own."""
    # setup.py copies these folders under screening/bundled/ when it builds a wheel; a checkout or an editable
    # install has no such copy and reads the repository's folders, where they are edited.
    inside = PACKAGE_DIR / "bundled" / name
    return inside if inside.is_dir() else PROJECT_ROOT / name


class ConfigError(RuntimeError):
    """The configuration is unsafe or unusable; the app refuses to start."""


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the default settings for an app whose instance folder is ``instance_path``."""
    return {
        # "development" or "production"; wsgi.py defaults to production.
        "ENVIRONMENT": "development",
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "DATABASE_URL": "sqlite:///" + os.path.join(instance_path, "screening.sqlite3"),
        # Seconds to wait for a database connection, and for one statement (SQLite: for another writer's lock),
        # before the request fails with the "try again in a few minutes" page; both well below gunicorn's 30 s.
        "DATABASE_CONNECT_TIMEOUT": 5.0,
        "DATABASE_STATEMENT_TIMEOUT": 10.0,
        "RULES_DIR": str(bundled("rules")),
        # How often each process checks which rule set version is active (and the files on disk), in seconds.
        "RULES_CHECK_SECONDS": 2.0,
        # Rule text being checked, tested or dry-run is evaluated in a child process within these limits
        # (screening.engine.budget): per evaluation (one rule set on one answers document, CPU time), in all for
        # one check and for one dry run (wall-clock time), and the memory the child may add to its size at start.
        "RULES_EVALUATION_MS": 200,
        "RULES_CHECK_LIMIT_SECONDS": 20.0,
        "RULES_DRY_RUN_SECONDS": 900.0,
        "RULES_MEMORY_MB": 512,
        # Publishing a rule change needs a second person (physician or admin) to approve it.
        "RULES_TWO_PERSON": True,
        # Saved intake forms expire this many days after the patient last saved them.
        "DRAFT_TTL_DAYS": 7,
        # Intake posts are small; anything larger is refused with a 413 page.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_PARTS": 400,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "screening_session",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto headers are trusted.
        "PROXY_COUNT": 0,
        # Sign-in: attempts per client address (Flask-Limiter syntax), counted in RATELIMIT_STORAGE_URI:
        # "memory://" counts per process; use "redis://host:6379/1" when several workers or hosts serve.
        "LOGIN_RATE_LIMIT": "10 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
        # This many wrong passwords in a row lock the account for LOGIN_LOCK_MINUTES.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCK_MINUTES": 15,
        # A signed-in session ends after this long without a request, and this long after sign-in.
        "SESSION_IDLE_MINUTES": 15,
        "SESSION_MAX_HOURS": 12,
        # A patient's session unused this long forgets the form it holds (its resume link still opens it).
        "PATIENT_IDLE_MINUTES": 30,
        # The task queue: "sqlite:///PATH" (one machine) or "redis://host:6379/0" (several hosts).
        "HUEY_URL": "sqlite:///" + os.path.join(instance_path, "huey.sqlite3"),
        # Run tasks at once inside the caller instead of in the consumers; None means "when TESTING".
        "HUEY_IMMEDIATE": None,
        # Urgent alerts about safety submissions: who gets them, and how often sending is retried.
        "ALERT_RECIPIENTS": [],
        "ALERT_RETRIES": 5,
        "ALERT_RETRY_DELAY_SECONDS": 60,
        "ALERT_RETRY_BACKOFF": 2.0,
        # A safety submission no physician has claimed this many minutes after it was sent re-alerts the on-call list.
        "SAFETY_ESCALATION_MINUTES": 30,
        # E-mails telling a patient of a physician's decision (screening.messaging): how often sending is retried.
        "PATIENT_MESSAGE_RETRIES": 5,
        "PATIENT_MESSAGE_RETRY_DELAY_SECONDS": 300,
        "PATIENT_MESSAGE_RETRY_BACKOFF": 2.0,
        # The address the clinic's patients and physicians open the app at (scheme, host and port). Every link
        # the app hands out (resume and status links, alert e-mails) starts with it, never with the Host header.
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        # Host names requests may name (Flask's TRUSTED_HOSTS); None: any in development, and in production
        # only the host of PUBLIC_BASE_URL. A JSON list or "a.example,b.example" from the environment.
        "TRUSTED_HOSTS": None,
        "SMTP_HOST": "localhost",
        "SMTP_PORT": 25,
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_STARTTLS": False,
        "SMTP_FROM": "screening@localhost",
        "SMTP_TIMEOUT": 10.0,
        # The clinic the pages name, how patients reach it, and its staff's support line (screening.clinic):
        # production needs the name and the phone number. Address and hours are text with one line per item, or a
        # list of lines.
        "CLINIC_NAME": None,
        "CLINIC_PHONE": None,
        "CLINIC_EMAIL": None,
        "CLINIC_ADDRESS": None,
        "CLINIC_HOURS": None,
        "CLINIC_WEBSITE": None,
        "CLINIC_BOOKING": None,
        "CLINIC_STAFF_SUPPORT_PHONE": None,
        # Fernet keys that encrypt patients' contact details, comma-separated, newest first (screening.contacts):
        # production needs one; development generates one into instance/contact_key.
        "CONTACT_KEYS": None,
        # Contact details of a decided submission are deleted this many days after the decision (contacts purge).
        "CONTACT_RETENTION_DAYS": 90,
        # US states the clinic serves, as two-letter codes ("NY,NJ,CT" or a JSON list); empty: every state.
        "SERVICE_STATES": "",
    }


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in precedence order and make it safe to serve."""
    defaulted = defaults(app.instance_path)
    app.config.from_mapping(defaulted)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SCREENING")
    if test_config is not None:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    # Plain http is only acceptable on a developer's own machine.
    app.config["SESSION_COOKIE_SECURE"] = not is_development(app)
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config, production=not is_development(app))
    ensure_numbers(app.config, defaulted)
    ensure_secret_key(app)
    ensure_clinic(app)
    ensure_contact_keys(app)
    ensure_service_states(app)


def ensure_numbers(config: Mapping[str, Any], defaulted: Mapping[str, Any]) -> None:
    """Refuse to start when a numeric setting is not a number of its kind, or is below zero.

    Checked here, at start, so a mistyped ``SCREENING_SAFETY_ESCALATION_MINUTES=thirty`` stops the app with one
    line instead of failing a periodic task every minute. A whole-number setting takes whole numbers only.
    """
    for name, default in defaulted.items():
        if isinstance(default, bool) or not isinstance(default, int | float) or config.get(name) is None:
            continue
        value = config[name]
        whole = isinstance(default, int)
        kinds: tuple[type, ...] = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            kind = "a whole number" if whole else "a number"
            raise ConfigError(f"SCREENING_{name} must be {kind}, 0 or more (default {default}), not {value!r}")


def trusted_hosts(config: Mapping[str, Any], *, production: bool) -> list[str] | None:
    """Return the host names requests may name: the setting, else PUBLIC_BASE_URL's host in production."""
    value = config.get("TRUSTED_HOSTS")
    if isinstance(value, str):
        value = [host.strip() for host in value.split(",") if host.strip()]
    if value:
        return [str(host) for host in value]
    if not production:
        return None
    host = urlsplit(str(config["PUBLIC_BASE_URL"])).hostname
    if not host:
        raise ConfigError("PUBLIC_BASE_URL must be an absolute address such as https://screening.clinic.example")
    return [host]


def public_url(config: Mapping[str, Any], path: str) -> str:
    """Return the absolute address of ``path`` (which starts with "/") under PUBLIC_BASE_URL."""
    return str(config["PUBLIC_BASE_URL"]).rstrip("/") + path


def database_url(url: str) -> str:
    """Return ``url`` with PostgreSQL's driver named: ``postgres://`` (as hosting services write it) means psycopg."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url


def is_development(app: Flask) -> bool:
    """Return True when the app runs as a developer's local server."""
    environment = app.config["ENVIRONMENT"]
    if environment not in {"development", "production"}:
        raise ConfigError(f"SCREENING_ENVIRONMENT must be 'development' or 'production', not {environment!r}")
    return environment == "development"


def ensure_secret_key(app: Flask) -> None:
    """Refuse a missing or guessable secret in production; in development keep a generated one in instance/."""
    key = app.config["SECRET_KEY"]
    if key and key != DEFAULT_SECRET_KEY:
        if not is_development(app):
            problem = secret_key_problem(str(key))
            if problem is not None:
                raise ConfigError(f"SCREENING_SECRET_KEY {problem}: set it to the output of {MAKE_SECRET}")
        return
    if not is_development(app):
        raise ConfigError(
            "SECRET_KEY is not set. Set SCREENING_SECRET_KEY (or SECRET_KEY in instance/config.py) "
            f"to a long random value (the output of {MAKE_SECRET}) before running in production."
        )
    app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))


def ensure_clinic(app: Flask) -> None:
    """Check the clinic's settings and keep the clinic in the app; production refuses one without name or phone."""
    try:
        named = clinic.clinic_from_config(app.config)
    except clinic.ClinicSettingError as error:
        raise ConfigError(str(error)) from None
    missing = clinic.missing_settings(named)
    if missing and not is_development(app):
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Every page names the clinic "
            "and its phone number: set them (or CLINIC_NAME and CLINIC_PHONE in instance/config.py) "
            "before running in production."
        )
    app.extensions[clinic.EXTENSION] = named


def ensure_contact_keys(app: Flask) -> None:
    """Check the keys of the contact details; production refuses to start without one."""
    try:
        contact_crypto.ensure_keys(app.config, Path(app.instance_path), production=not is_development(app))
    except contact_crypto.ContactKeyError as error:
        raise ConfigError(error.message) from None


def ensure_service_states(app: Flask) -> None:
    """Refuse a SERVICE_STATES setting that names something other than US state codes."""
    try:
        contact_details.served_states(app.config["SERVICE_STATES"])
    except contact_details.Invalid as error:
        raise ConfigError(error.message) from None


def secret_key_problem(key: str) -> str | None:
    """Return why ``key`` is guessable (too short, a placeholder, too few characters), or None."""
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        return f"is shorter than {MIN_SECRET_KEY_BYTES} bytes"
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return "is a placeholder, not a random value"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        return "repeats too few characters to be random"
    return None


def _development_secret(instance: Path) -> str:
    """Return the development secret stored in ``instance``, creating it on first run."""
    return kept_secret(instance / SECRET_KEY_FILE, lambda: secrets.token_hex(32))
