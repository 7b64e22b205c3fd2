"""The ``seed`` command: fill the database with realistic fake submissions, for demos and benchmarks."""

from __future__ import annotations

import secrets
import time
from datetime import UTC
from datetime import datetime

import click
from flask import current_app

from .. import db
from ..dbcheck import needs_database
from ..review.seed import seed_submissions
from ..active_rules import require_ruleset
from ..active_rules.registry import RulesUnavailable

#: More than any demo or benchmark needs; keeps a typo (an extra zero or two) from filling the disk.
MAX_COUNT = 1_000_000


@click.command("seed")
@click.option("--count", required=True, type=click.IntRange(1, MAX_COUNT), help="How many fake submissions to add.")
@click.option("--seed", "seed", type=int, default=None, help="Random seed: the same seed gives the same data.")
@needs_database
def seed_command(count: int, seed: int | None) -> None:
    """Add COUNT fake submissions, scored and decided by the active rule set. Never use on real data."""
    if seed is None:
        seed = secrets.randbelow(2**31)
    try:
        ruleset = require_ruleset(current_app)
    except RulesUnavailable as error:
        raise click.ClickException(str(error)) from None
    started = time.perf_counter()
    with db.new_session(current_app) as session:
        seed_submissions(session, count, seed=seed, now=datetime.now(UTC), ruleset=ruleset)
        session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Seeded {count} submissions (seed {seed}, rule set {ruleset.version[:19]}) in {elapsed:.1f} s.")
