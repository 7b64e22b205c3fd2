"""``flask screen``: screen answers documents with the active rule set, storing nothing."""

from __future__ import annotations

import json
from typing import Any
from typing import BinaryIO

import click
from flask import current_app

from ..dbcheck import needs_database
from ..errors import AnswersError
from ..active_rules import require_ruleset
from ..engine.evaluation import screen_document
from ..active_rules.registry import RulesUnavailable
from .common import echo_json


@click.command("screen")
@click.argument("file", type=click.File("rb"))
@needs_database
def screen_command(file: BinaryIO) -> None:
    """Screen an answers document (or a JSON list of them) with the active rule set; store nothing."""
    data = _read_json(file.read())
    try:
        ruleset = require_ruleset(current_app)
    except RulesUnavailable as unavailable:
        raise click.ClickException(f"no valid rule set: {unavailable.errors[0]}") from None
    documents = data if isinstance(data, list) else [data]
    results = []
    for index, document in enumerate(documents):
        try:
            results.append(screen_document(document, ruleset).as_result())
        except AnswersError as error:
            where = f"[{index}]." if isinstance(data, list) else ""
            raise click.ClickException(f"{where}{error.field}: {error.reason}") from None
    echo_json(results if isinstance(data, list) else results[0])


def _read_json(content: bytes) -> Any:
    """Return the JSON in ``content`` (UTF-8, with or without a byte order mark), or exit 1 saying why it is not."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"document: not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"document: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
