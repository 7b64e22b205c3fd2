"""How the rule-tuning pages and the rules commands word things: timestamps, versions, counts, labels, people.

Read-only; the only query is the email of the users named.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from ..models import RuleDraft
from ..models import User
from . import drafts

KIND_LABELS = {"bootstrap": "First start from the files", "publish": "Published", "rollback": "Rolled back"}
STATUS_LABELS = {
    drafts.EDITING: "Being edited",
    drafts.SUBMITTED: "Waiting for approval",
    drafts.PUBLISHED: "Published",
    drafts.DISCARDED: "Discarded",
}


# --- Words -----------------------------------------------------------------------------------------


def utc(moment: datetime | None) -> str:
    """Return a timestamp in UTC, to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


def short(version: str | None) -> str:
    """Return the first 12 digits of a version hash, as people quote it."""
    return (version or "").removeprefix("sha256:")[:12]


def plural(count: int, word: str) -> str:
    """Return "1 problem", "2 problems"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- People ----------------------------------------------------------------------------------------


def user_emails(session: orm.Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Return the email of each user id given."""
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = session.execute(sa.select(User.id, User.email).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def actor_id(actor: str | None) -> int | None:
    """Return the user id of an actor written "user:<id>", else None."""
    if actor and actor.startswith("user:") and actor[5:].isdigit():
        return int(actor[5:])
    return None


def actor_name(actor: str | None, emails: Mapping[int, str]) -> str:
    """Return who an actor is, as a person reads it."""
    if actor is None:
        return ""
    if actor == "system":
        return "the system"
    user_id = actor_id(actor)
    if user_id is None:
        return actor
    return emails.get(user_id, f"user {user_id} (deleted)")


def draft_people(session: orm.Session, draft: RuleDraft) -> dict[int, str]:
    """Return the email of everybody named on a draft."""
    return user_emails(
        session,
        [draft.created_by_id, draft.updated_by_id, draft.submitted_by_id, draft.reviewed_by_id, *draft.editor_ids],
    )


def drafts_people(session: orm.Session, rows: Iterable[RuleDraft]) -> dict[int, str]:
    """Return the email of the author and last editor of each draft."""
    return user_emails(session, [id_ for draft in rows for id_ in (draft.created_by_id, draft.updated_by_id)])
