"""``flask alerts list|retry``: the urgent-alert queue, and sending the failed alerts again."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import click
from flask import Flask
from flask import current_app

from ..alerts import consumer_problem
from ..alerts import enqueue_alert
from ..alerts import latest_alerts
from ..alerts import queue_status
from ..alerts import retry_candidates
from ..db import new_session
from ..dbcheck import needs_database


def _now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def _warn_unless_consumer_runs(app: Flask, now: datetime) -> None:
    """Print a warning to stderr while no alert consumer runs."""
    problem = consumer_problem(app, now)
    if problem is not None:
        click.secho(f"Warning: {problem}", err=True, fg="red", bold=True)


@click.group("alerts")
def alerts_group() -> None:
    """List urgent alerts and re-send the ones that failed."""


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only alerts in this state.")
@click.option("--limit", default=50, show_default=True, help="Newest alerts to show.")
@needs_database
def list_command(status: str | None, limit: int) -> None:
    """Show the alert queue's state, then the newest alerts: id, state, attempts, reference, times, last error."""
    click.echo(queue_status(current_app, _now()))
    _warn_unless_consumer_runs(current_app, _now())
    with new_session(current_app) as session:
        rows = latest_alerts(session, status=status, limit=limit)
    for alert, reference in rows:
        sent = alert.sent_at.isoformat(timespec="seconds") if alert.sent_at else "-"
        click.echo(
            f"{alert.id}\t{alert.kind}\t{alert.status}\tattempts={alert.attempts}\t{reference}\t"
            f"created={alert.created_at.isoformat(timespec='seconds')}\tsent={sent}\t{alert.last_error or ''}"
        )
    if not rows:
        click.echo("No alerts.")


@alerts_group.command("retry")
@needs_database
def retry_command() -> None:
    """Queue again every failed alert (and pending ones that were never queued)."""
    with new_session(current_app) as session:
        ids = [alert.id for alert in retry_candidates(session, now=_now())]
    for alert_id in ids:
        enqueue_alert(current_app, alert_id)
    click.echo(f"Queued {len(ids)} alert(s) again.")
    _warn_unless_consumer_runs(current_app, _now())
