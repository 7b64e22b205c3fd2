"""Stored rule set versions and which one is active: the database is where every worker reads it.

A version is the full text of every rule file, named by its content hash. Activating adds a
``RuleSetActivation`` row; the newest row is the active version for every process and host on
the database. Nothing here is ever updated or deleted, so the rows are also the history.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..models import RuleSetActivation
from ..models import RuleSetVersion
from ..engine.loader import Sources
from ..engine.loader import version_of

#: Activation kinds.
BOOTSTRAP = "bootstrap"
PUBLISH = "publish"
ROLLBACK = "rollback"
_HASH_PREFIX = "sha256:"
_MIN_PREFIX = 6


class VersionNotFound(LookupError):
    """No stored version matches what was asked for."""


@dataclass(frozen=True)
class Active:
    """The active version and the activation that made it so."""

    version: RuleSetVersion
    activation: RuleSetActivation


def active(session: orm.Session) -> Active | None:
    """Return the active version with its activation, or None before the first activation."""
    row = session.execute(
        sa.select(RuleSetActivation, RuleSetVersion)
        .join(RuleSetVersion, RuleSetVersion.id == RuleSetActivation.version_id)
        .order_by(RuleSetActivation.id.desc())
        .limit(1)
    ).first()
    return Active(version=row[1], activation=row[0]) if row else None


def active_pointer(session: orm.Session) -> tuple[int, str] | None:
    """Return (activation id, version hash) of the active version: the cheap query workers poll."""
    row = session.execute(
        sa.select(RuleSetActivation.id, RuleSetVersion.version)
        .join(RuleSetVersion, RuleSetVersion.id == RuleSetActivation.version_id)
        .order_by(RuleSetActivation.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def activations(session: orm.Session) -> list[tuple[RuleSetActivation, RuleSetVersion]]:
    """Return every activation with its version, newest first; a version's files are read only if used."""
    query = (
        sa.select(RuleSetActivation, RuleSetVersion)
        .join(RuleSetVersion, RuleSetVersion.id == RuleSetActivation.version_id)
        .options(orm.defer(RuleSetVersion.sources))
        .order_by(RuleSetActivation.id.desc())
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def version_history(session: orm.Session, *, through: int) -> list[tuple[int, str]]:
    """Return (version id, version hash) of every activation up to ``through``, newest first; no file text."""
    rows = session.execute(
        sa.select(RuleSetVersion.id, RuleSetVersion.version)
        .join(RuleSetActivation, RuleSetActivation.version_id == RuleSetVersion.id)
        .where(RuleSetActivation.id <= through)
        .order_by(RuleSetActivation.id.desc())
    )
    return [(row[0], row[1]) for row in rows]


def sources_of(session: orm.Session, version_id: int) -> Sources:
    """Return the files of one stored version."""
    sources = session.scalar(sa.select(RuleSetVersion.sources).where(RuleSetVersion.id == version_id))
    return dict(sources or {})


def find_version(session: orm.Session, text: str) -> RuleSetVersion:
    """Return the stored version named by its hash or a unique prefix of it (with or without "sha256:")."""
    wanted = text.strip().lower().removeprefix(_HASH_PREFIX)
    if len(wanted) < _MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
        raise VersionNotFound(f"{text!r} is not a version: give its hash or at least {_MIN_PREFIX} of its first digits")
    found = session.scalars(
        sa.select(RuleSetVersion).where(RuleSetVersion.version.startswith(_HASH_PREFIX + wanted)).limit(2)
    ).all()
    if not found:
        raise VersionNotFound(f"no stored version starts with {_HASH_PREFIX}{wanted}")
    if len(found) > 1:
        raise VersionNotFound(f"more than one stored version starts with {_HASH_PREFIX}{wanted}: give more digits")
    return found[0]


def store_version(session: orm.Session, sources: Sources, *, origin: str, now: datetime) -> RuleSetVersion:
    """Return the stored version with these sources, storing it first if it is new."""
    version = version_of(sources)
    stored = session.scalar(sa.select(RuleSetVersion).where(RuleSetVersion.version == version))
    if stored is None:
        stored = RuleSetVersion(version=version, sources=dict(sources), activated_at=now, origin=origin)
        session.add(stored)
        session.flush()
    return stored


def activate(
    session: orm.Session,
    stored: RuleSetVersion,
    *,
    kind: str,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
    draft_id: int | None = None,
    remote_addr: str | None = None,
) -> RuleSetActivation:
    """Make ``stored`` the active version for every worker, with an audit event; the caller commits.

    The new activation names the one it replaces; two switches made at the same moment from the same
    active version cannot both be stored (IntegrityError at flush or commit), so neither undoes the
    other unseen.
    """
    pointer = active_pointer(session)
    activation = RuleSetActivation(
        version_id=stored.id,
        at=now,
        kind=kind,
        actor=actor,
        approved_by=approved_by,
        draft_id=draft_id,
        replaces_id=pointer[0] if pointer else None,
    )
    session.add(activation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="ruleset.activated" if kind != ROLLBACK else "ruleset.rolled_back",
        subject_type="ruleset_version",
        subject_id=stored.id,
        at=now,
        remote_addr=remote_addr,
        details={
            "version": stored.version,
            "kind": kind,
            "activation": activation.id,
            "approved_by": approved_by,
            "draft": draft_id,
        },
    )
    return activation


def write_files(directory: Path, sources: Sources) -> None:
    """Write a version's files into ``directory``: each file replaced atomically, stale .yaml files removed.

    Every new text is written to a temporary file first, so a failure leaves the old files whole.
    """
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in sorted(sources.items()):
            target = _inside(directory, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                file.write(text)
            staged.append((Path(temporary), target))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)
    wanted = {_inside(directory, name) for name in sources}
    for path in directory.resolve().rglob("*.yaml"):  # resolved like ``wanted``, so a relative directory works
        if path.is_file() and path.resolve() not in wanted:
            path.unlink()


def _inside(directory: Path, name: str) -> Path:
    """Return ``directory / name``, refusing a name that would leave the directory."""
    target = (directory / name).resolve()
    if not target.is_relative_to(directory.resolve()) or not name.endswith(".yaml"):
        raise ValueError(f"{name!r} is not a rule file name inside {directory}")
    return target
