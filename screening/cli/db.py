"""``flask init-db`` and ``flask purge-drafts``: the database's schema and the expired saved forms."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import click
from alembic.util import CommandError
from flask import current_app
from flask.cli import with_appcontext

from .. import audit
from .. import db
from .. import dbcheck
from .. import migrate
from .common import ACTOR


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
    from ..patient.intake.service import purge_expired_drafts

    now = datetime.now(UTC)
    with db.new_session(current_app) as session:
        count = purge_expired_drafts(session, now=now)
        audit.record(
            session,
            actor=ACTOR,
            action="drafts.purged",
            subject_type="draft",
            subject_id=None,
            at=now,
            details={"count": count},
        )
        session.commit()
    click.echo(f"Deleted {count} expired draft(s).")
