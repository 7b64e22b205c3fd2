"""The ``contacts`` commands: rotate-key (encrypt every stored detail with the newest key) and purge (retention)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import click
from flask import current_app

from .. import db
from ..contacts import service
from ..dbcheck import needs_database
from .common import ACTOR
from .common import fail_on


@click.group("contacts")
def contacts_group() -> None:
    """Look after the patients' encrypted contact details."""


@contacts_group.command("rotate-key")
@needs_database
def rotate_key_command() -> None:
    """Encrypt every stored contact detail with the newest key of SCREENING_CONTACT_KEYS."""
    with db.new_session(current_app) as session:
        count = fail_on(lambda: service.rotate_keys(session, current_app.config))
        session.commit()
    click.echo(f"Encrypted {count} contact record(s) again with the newest key; older keys may now be removed.")


@contacts_group.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Keep the details this many days after the decision (default: SCREENING_CONTACT_RETENTION_DAYS).",
)
@needs_database
def purge_command(days: int | None) -> None:
    """Delete the contact details of submissions decided longer ago than the retention; audited."""
    config = {**current_app.config, **({service.RETENTION_SETTING: days} if days is not None else {})}
    with db.new_session(current_app) as session:
        count = fail_on(lambda: service.purge_closed(session, config, datetime.now(UTC), actor=ACTOR))
        session.commit()
    click.echo(f"Deleted the contact details of {count} closed submission(s) ({service.retention_days(config)} days).")
