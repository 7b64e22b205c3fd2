"""Reading the rule files a ``rules`` command is given: a directory, or one file checked with the rest of its own."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app

from ...engine.loader import Sources
from ...engine.loader import limit_problems
from ...engine.loader import read_sources
from ...engine.spec import OUTCOMES_FILE


def sources_at(path: str | None) -> tuple[Sources, str]:
    """Return the sources to check and the prefix their files are shown under.

    PATH is a rules directory, or one file checked together with the rest of its directory.
    """
    sources, prefix, _ = read_target(path)
    return sources, prefix


def read_target(path: str | None) -> tuple[Sources, str, Callable[[str], str]]:
    """Return the sources at PATH, the prefix of their directory, and how a file is named in messages.

    A file given on its own is named as given, also when it stands in for a file of the app's rules directory.
    """
    target = Path(path or current_app.config["RULES_DIR"])
    if not target.exists():
        raise click.ClickException(f"{target}: no such file or directory")
    directory = target if target.is_dir() else _directory_of(target)
    prefix = shown_directory(directory)
    given = None if target.is_dir() else _source_name(target, directory)
    try:
        sources = read_sources(directory)
        if given is not None:
            sources[given] = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{target}: rule files must be UTF-8 text ({error.reason})") from None
    shown = _namer(target, given, prefix)
    too_large = limit_problems(sources)  # the limits a rule set saved in the browser has
    if too_large:
        raise click.ClickException("; ".join(str(dataclasses.replace(p, file=shown(p.file))) for p in too_large))
    return sources, prefix, shown


def _namer(target: Path, given: str | None, prefix: str) -> Callable[[str], str]:
    """Return how a file is named in messages: the file given as given, the others under the directory's prefix."""
    return lambda file: str(target) if file == given else prefix + file


def _source_name(file: Path, directory: Path) -> str:
    """Return the name a single file is checked under: its path inside ``directory``, or else its own name."""
    if file.resolve().is_relative_to(directory.resolve()):
        return file.resolve().relative_to(directory.resolve()).as_posix()
    return file.name


def _directory_of(file: Path) -> Path:
    """Return the rules directory a single file is checked with: its own, or else the app's."""
    return file.parent if (file.parent / OUTCOMES_FILE).exists() else Path(current_app.config["RULES_DIR"])


def shown_directory(directory: Path) -> str:
    """Return how a directory is written before file names: relative when it is below here, else as is."""
    text = str(directory)
    if directory.is_absolute() and directory.resolve().is_relative_to(Path.cwd().resolve()):
        text = os.path.relpath(directory)
    return "" if text == "." else text.rstrip("/") + "/"
