"""What the diff page shows: two sides, each a stored version or a draft, and their comparison file by file.

Read-only helpers over ``drafts`` and ``active_rules.store``; nothing here changes the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from ..models import RuleSetVersion
from ..active_rules import store
from ..engine.loader import Sources
from . import drafts
from .diff import diff_sources
from .errors import TuningError
from .errors import TuningInvalid
from .errors import TuningNotFound
from .pages import get_version
from .wording import STATUS_LABELS
from .wording import short
from .wording import utc
from .reviewed import draft_version

_SIDE = re.compile(r"^([vd])([0-9]{1,9})$")


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a stored version ("v<id>") or a draft ("d<id>")."""

    ref: str
    label: str
    sources: Sources


def side_of(session: orm.Session, ref: str | None, current: store.Active | None) -> Side:
    """Return the version or draft ``ref`` names; TuningInvalid when it is malformed, TuningNotFound when unknown."""
    found = _SIDE.match((ref or "").strip())
    if found is None:
        raise TuningInvalid(
            f"{(ref or '')[:40]!r} does not name a version or a draft: use v and a version number (v3) "
            "or d and a draft number (d2), or pick them from the lists."
        )
    kind, number = found.group(1), int(found.group(2))
    if kind == "v":
        version = get_version(session, number)
        active = " (active)" if current is not None and current.version.id == version.id else ""
        return Side(f"v{number}", f"version {short(version.version)}{active}", dict(version.sources))
    draft = drafts.get_draft(session, number)
    label = f"draft {number} (version {short(draft_version(draft))}): {draft.title}"
    return Side(f"d{number}", label, dict(draft.sources))


def side_choices(session: orm.Session, current: store.Active | None) -> list[tuple[str, str]]:
    """Return (value, label) of every stored version (newest first) and every draft, for the diff form."""
    active_id = current.version.id if current is not None else None
    versions = session.scalars(sa.select(RuleSetVersion).order_by(RuleSetVersion.id.desc())).all()
    choices = [
        (
            f"v{version.id}",
            f"Version {short(version.version)}, stored {utc(version.activated_at)}"
            + (" (active)" if version.id == active_id else ""),
        )
        for version in versions
    ]
    for draft in drafts.list_drafts(session, include_closed=True):
        choices.append((f"d{draft.id}", f"Draft {draft.id}: {draft.title} ({STATUS_LABELS.get(draft.status, '')})"))
    return choices


def diff_context(session: orm.Session, left: str | None, right: str | None) -> dict[str, Any]:
    """Return what the diff page shows: the form, and the comparison or why there is none (with a status)."""
    current = store.active(session)
    context: dict[str, Any] = {
        "choices": side_choices(session, current),
        "left": left if left is not None else (f"v{current.version.id}" if current else ""),
        "right": right or "",
        "sides": None,
        "diff": None,
        "refused": None,
        "status": 200,
    }
    if not left and not right:
        return context
    try:
        sides = (side_of(session, left, current), side_of(session, right, current))
    except TuningError as error:
        return {**context, "refused": error.message, "status": 404 if isinstance(error, TuningNotFound) else 400}
    return {**context, "sides": sides, "diff": diff_sources(sides[0].sources, sides[1].sources)}
