"""The ``rules`` group; its commands are in the modules beside this one and are added in ``screening.cli``.

``checking``: check, test, facts, activate, reevaluate, explain; ``publishing``: publish, drafts, approve,
rollback, export, versions; ``backtest``: the dry run. ``files`` reads the rule files a command is given.
"""

from __future__ import annotations

import click


@click.group("rules")
def rules_group() -> None:
    """Check, test and explain the rule files."""
