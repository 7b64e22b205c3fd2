"""screening: the eligibility-screening intake of a ketamine-therapy clinic."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import alerts
from . import cli
from . import clinic
from . import config
from . import db
from . import escalation
from . import errorpages
from .messaging import service as patient_messages
from . import active_rules
from . import security
from .auth import views as auth_views
from .tuning import dry_runs

csrf = CSRFProtect()

#: The site's icon in static/, and how long browsers may keep it without asking again.
FAVICON = "favicon.svg"
FAVICON_MAX_AGE_SECONDS = 24 * 3600


class ScreeningApp(Flask):
    """The Flask app, with the icon cached for a day."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Let browsers keep the icon; other static files are revalidated, as their names carry no version."""
        if filename == FAVICON:
            return FAVICON_MAX_AGE_SECONDS
        return super().get_send_file_max_age(filename)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the application.

    Settings come from the defaults in ``screening.config``, then ``instance/config.py``,
    then ``SCREENING_*`` environment variables, then ``test_config``.
    """
    app = ScreeningApp(
        __name__,
        instance_relative_config=True,
        template_folder=str(config.bundled("templates")),
    )
    _configure(app, test_config)
    _trust_proxies(app)
    clinic.init_app(app)
    csrf.init_app(app)
    active_rules.init_app(app)
    security.init_app(app)
    auth_views.init_app(app)
    errorpages.init_app(app)
    cli.init_app(app)
    alerts.init_app(app)
    escalation.init_app(app)
    dry_runs.init_app(app)
    patient_messages.init_app(app)
    _register_blueprints(app)
    # Browsers that do not read the page's link ask for /favicon.ico: serve the icon there too, as a static file.
    app.add_url_rule("/favicon.ico", "static", defaults={"filename": FAVICON})
    return app


def _configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Load the settings and make the database engine; under a command, an unusable setting is one line."""
    try:
        config.load(app, test_config)
        db.init_app(app)
    except config.ConfigError as error:
        if click.get_current_context(silent=True) is None:
            raise
        raise click.ClickException(str(error)) from None


def _trust_proxies(app: Flask) -> None:
    """Read the client address and scheme from X-Forwarded-* set by this many reverse proxies."""
    count = int(app.config["PROXY_COUNT"])
    if count:
        # ProxyFix sets the address from X-Forwarded-For, then the inner middleware checks what it set.
        checked = security.ValidClientAddress(app.wsgi_app)
        app.wsgi_app = ProxyFix(checked, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    """Attach one blueprint per audience."""
    from .admin.views import bp as admin_bp
    from .patient.intake.views import bp as intake_bp
    from .review.views import bp as review_bp
    from .patient.status.views import bp as status_bp
    from .tuning.views import bp as tuning_bp
    from .patient.intake import finish_views  # noqa: F401 - adds the confirmation page to intake_bp
    from .patient.intake import resume_views  # noqa: F401 - adds the resume pages to intake_bp
    from .tuning import dry_run_views  # noqa: F401 - adds the dry-run pages to tuning_bp
    from .tuning import step_views  # noqa: F401 - adds the steps on a draft and roll-back to tuning_bp
    from .admin import export_views  # noqa: F401 - adds the exports page to admin_bp

    app.register_blueprint(intake_bp)
    app.register_blueprint(status_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(tuning_bp)
