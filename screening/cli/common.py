"""What every command module shares: turning a refusal into one line and exit 1, and printing JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from ..errors import ScreeningError

T = TypeVar("T")
#: Who the audit trail names for a change made from the command line (without ``--by``).
ACTOR = "cli"
#: How the commands are run, as printed in hints.
FLASK = "flask --app screening"


def fail_on(action: Callable[[], T]) -> T:
    """Run ``action``; turn a ScreeningError into a one-line error and a non-zero exit."""
    try:
        return action()
    except ScreeningError as error:
        raise click.ClickException(error.message) from None


def echo_json(data: object) -> None:
    """Print data as indented JSON."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
