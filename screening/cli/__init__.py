"""Command-line commands: init-db, purge-drafts, the rules group and screen."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import click
from alembic.util import CommandError
from flask import Flask
from flask import current_app
from flask.cli import run_command
from flask.cli import with_appcontext

from .. import audit
from .. import db
from .. import dbcheck
from .. import migrate
from ..alerts import alerts_group
from .rules.checking import rules_group
from .rules.checking import screen_command
from .seed import seed_command
from .rules.publishing import approve_command
from .rules.publishing import drafts_command
from .rules.publishing import export_command
from .rules.publishing import publish_command
from .rules.publishing import rollback_command
from .rules.publishing import versions_command
from .users import users_group


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(purge_drafts_command)
    rules_group.add_command(publish_command)
    rules_group.add_command(drafts_command)
    rules_group.add_command(approve_command)
    rules_group.add_command(rollback_command)
    rules_group.add_command(export_command)
    rules_group.add_command(versions_command)
    app.cli.add_command(rules_group)
    app.cli.add_command(screen_command)
    app.cli.add_command(users_group)
    app.cli.add_command(alerts_group)
    app.cli.add_command(seed_command)
    _refuse_to_run_without_a_database(app)


def _refuse_to_run_without_a_database(app: Flask) -> None:
    """Under ``flask run``, exit with one line when the database is missing or not migrated, before serving 500s."""
    context = click.get_current_context(silent=True)
    if context is None or context.command is not run_command:
        return  # another command (which checks for itself), a WSGI server, or a test
    problem = dbcheck.serving_problem(app)
    if problem is not None:
        raise click.ClickException(problem.message)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the database or migrate it to the latest schema."""
    engine = db.engine_for(current_app)
    with dbcheck.database_errors(engine.url):
        try:
            migrate.upgrade(current_app.config["DATABASE_URL"])
        except CommandError as error:  # most likely a revision this code does not know: say which
            raise click.ClickException(str(dbcheck.diagnose(engine) or error)) from None
        revision = migrate.current_revision(engine)
    click.echo(f"Database is at the latest schema (revision {revision}).")


@click.command("purge-drafts")
@dbcheck.needs_database
def purge_drafts_command() -> None:
    """Delete saved intake forms that have expired."""
    from ..intake.service import purge_expired_drafts

    now = datetime.now(UTC)
    with db.new_session(current_app) as session:
        count = purge_expired_drafts(session, now=now)
        audit.record(
            session,
            actor="cli",
            action="drafts.purged",
            subject_type="draft",
            subject_id=None,
            at=now,
            details={"count": count},
        )
        session.commit()
    click.echo(f"Deleted {count} expired draft(s).")
