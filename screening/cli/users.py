"""The ``users`` commands: create, list, disable and set-role. Each change is audited with actor "cli"."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import click
from flask import current_app

from .. import db
from ..admin import service
from ..auth.roles import ROLES
from ..clinic import clinic_of
from ..dbcheck import needs_database
from .common import ACTOR
from .common import fail_on


@click.group("users")
def users_group() -> None:
    """Manage clinic users (physicians, staff, admins)."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@needs_database
def create_command(email: str, role: str) -> None:
    """Add a user; the password is asked for twice and never shown."""
    with db.new_session(current_app) as session:
        fail_on(lambda: service.check_new_email(session, email))
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        user = fail_on(
            lambda: service.create_user(
                session,
                email=email,
                role=role,
                password=password,
                actor=ACTOR,
                at=datetime.now(UTC),
                site_words=clinic_of(current_app).names,
            )
        )
        session.commit()
        click.echo(f"Created {user.email} ({user.role}).")


@users_group.command("list")
@needs_database
def list_command() -> None:
    """Show every user with their role, status and last sign-in."""
    with db.new_session(current_app) as session:
        users = service.list_users(session)
        if not users:
            click.echo("No users yet. Add one with: flask --app screening users create EMAIL --role ROLE")
            return
        width = max(len(user.email) for user in users)
        click.echo(f"{'EMAIL':<{width}}  {'ROLE':<9}  {'STATUS':<8}  LAST SIGN-IN (UTC)")
        for user in users:
            status = "disabled" if user.disabled else "active"
            last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
            click.echo(f"{user.email:<{width}}  {user.role:<9}  {status:<8}  {last}")


@users_group.command("disable")
@click.argument("email")
@needs_database
def disable_command(email: str) -> None:
    """Disable a user; their sessions end at once."""
    with db.new_session(current_app) as session:
        user = fail_on(lambda: service.find_user(session, email))
        changed = service.disable_user(session, user, actor=ACTOR, at=datetime.now(UTC))
        session.commit()
        click.echo(
            f"Disabled {user.email}; their sessions have ended." if changed else f"{user.email} was already disabled."
        )


@users_group.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@needs_database
def set_role_command(email: str, role: str) -> None:
    """Give a user another role; their sessions end."""
    with db.new_session(current_app) as session:
        user = fail_on(lambda: service.find_user(session, email))
        changed = service.set_role(session, user, role, actor=ACTOR, at=datetime.now(UTC))
        session.commit()
        click.echo(f"{user.email} is now {role}." if changed else f"{user.email} already has the role {role}.")
