"""The command-line commands, one module per group, all registered here by ``init_app``.

``db``: init-db, purge-drafts; ``users``; ``rules`` (a package: checking, publishing, backtest); ``screen``;
``seed``; ``alerts``; ``contacts``; ``export``. No command module imports another; what they share is in ``common`` (and, for the
``rules`` commands, reading the rule files in ``rules.files``).
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import run_command

from .. import dbcheck
from .alerts import alerts_group
from .contacts import contacts_group
from .db import init_db_command
from .db import purge_drafts_command
from .export import export_group
from .rules import rules_group
from .rules.backtest import backtest_command
from .rules.checking import activate_command
from .rules.checking import check_command
from .rules.checking import explain_command
from .rules.checking import facts_command
from .rules.checking import reevaluate_command
from .rules.checking import test_command
from .rules.publishing import approve_command
from .rules.publishing import drafts_command
from .rules.publishing import export_command
from .rules.publishing import publish_command
from .rules.publishing import rollback_command
from .rules.publishing import versions_command
from .screen import screen_command
from .seed import seed_command
from .users import users_group

#: The commands of ``flask rules``, from the modules of ``screening.cli.rules``.
RULES_COMMANDS = (
    check_command,
    test_command,
    facts_command,
    activate_command,
    reevaluate_command,
    explain_command,
    publish_command,
    drafts_command,
    approve_command,
    rollback_command,
    export_command,
    versions_command,
    backtest_command,
)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(purge_drafts_command)
    for command in RULES_COMMANDS:
        rules_group.add_command(command)
    app.cli.add_command(rules_group)
    app.cli.add_command(screen_command)
    app.cli.add_command(users_group)
    app.cli.add_command(alerts_group)
    app.cli.add_command(contacts_group)
    app.cli.add_command(export_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(export_group)
    _refuse_to_run_without_a_database(app)


def _refuse_to_run_without_a_database(app: Flask) -> None:
    """Under ``flask run``, exit with one line when the database is missing or not migrated, before serving 500s."""
    context = click.get_current_context(silent=True)
    if context is None or context.command is not run_command:
        return  # another command (which checks for itself), a WSGI server, or a test
    problem = dbcheck.serving_problem(app)
    if problem is not None:
        raise click.ClickException(problem.message)
