"""``flask rules publish|drafts|approve|rollback|export|versions``: the rules on disk and the versions in the database.

The database holds every published version and names the active one; every worker follows it.
``publish`` submits the files on disk as a draft, checked exactly as a draft from the browser is
(and, with the two-person rule off, publishes it at once). ``drafts`` lists the open drafts with
the version of their text, which ``approve --version`` names as the text reviewed. ``approve`` and
``rollback`` take the same steps as the rules pages, audited under the user named by ``--by``.
Every refusal is one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError

from ...admin import service
from ...db import new_session
from ...dbcheck import needs_database
from ...errors import ScreeningError
from ...models import RuleDraft
from ...models import RuleSetActivation
from ...models import RuleSetVersion
from ...models import User
from ...active_rules import store
from ...engine.loader import Sources
from ...engine.loader import version_of
from ...tuning import checks
from ...tuning import drafts
from ...tuning.errors import ReviewOutdated
from ...tuning.reviewed import record_refused_approval
from ...tuning.wording import STATUS_LABELS
from ...tuning.wording import actor_id
from ...tuning.wording import actor_name
from ...tuning.wording import plural
from ...tuning.wording import short
from ...tuning.wording import utc
from ...tuning.wording import user_emails
from ..common import FLASK
from ..common import fail_on
from .files import sources_at
from ...tuning.reviewed import draft_version
from ...tuning import publishing

T = TypeVar("T")
_AT_THE_SAME_MOMENT = "Somebody changed the rules at the same moment; nothing was changed. Look again and retry."


def _fail_on(action: Callable[[], T]) -> T:
    """Run ``action``; turn a refusal of the service into a one-line error and exit 1."""
    try:
        return fail_on(action)
    except store.VersionNotFound as error:
        raise click.ClickException(str(error)) from None
    except IntegrityError:
        raise click.ClickException(_AT_THE_SAME_MOMENT) from None


def _commit(session: orm.Session) -> None:
    """Commit, or exit saying that another change won the race (nothing of this one is kept)."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise click.ClickException(_AT_THE_SAME_MOMENT) from None


def _user(session: orm.Session, email: str) -> User:
    """Return the enabled user with ``email``, or exit with why there is none."""
    user = _fail_on(lambda: service.find_user(session, email))
    if user.disabled:
        raise click.ClickException(f"{user.email} is disabled and cannot change the rules.")
    return user


def _editor(session: orm.Session, email: str) -> User:
    """Return the user who publishes files: enabled, with a role that writes drafts."""
    user = _user(session, email)
    if user.role not in drafts.EDITOR_ROLES:
        raise click.ClickException(
            f"{user.email} is a {user.role}; only staff and administrators can publish rule files."
        )
    return user


def _rules_dir() -> Path:
    """Return the app's rules directory."""
    return Path(current_app.config["RULES_DIR"])


def _two_person() -> bool:
    """Return True when a second person must approve every rule change."""
    return bool(current_app.config["RULES_TWO_PERSON"])


def _draft_page(draft_id: int) -> str:
    """Return the address of a draft's page, at the address physicians open the app at."""
    path = current_app.url_map.bind("").build("tuning.draft", {"draft_id": draft_id})
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path


def _switch_note() -> str:
    """Return when the running workers follow a new active version."""
    return f"every worker switches within {float(current_app.config['RULES_CHECK_SECONDS']):g} seconds"


def _write_files(published: publishing.Published) -> None:
    """Write a newly active version into the rules directory, and say whether that worked."""
    directory = _rules_dir()
    written = publishing.write_published_files(directory, published)
    if written.files_error:
        click.echo(
            f"Warning: the files could not be written ({written.files_error}); every worker uses the new "
            f"version anyway, but the files in {directory} now differ from it.",
            err=True,
        )
    else:
        click.echo(f"Wrote its files to {directory}.")


@click.command("publish")
@click.argument("path", required=False)
@click.option("--by", "email", required=True, metavar="EMAIL", help="The staff member or administrator publishing.")
@click.option("--title", help="What the change does and why (default: names the files).")
@needs_database
def publish_command(path: str | None, email: str, title: str | None) -> None:
    """Check the rule files at PATH (default: the rules directory) and submit them for approval.

    With the two-person rule off, they are published at once.
    """
    sources, prefix = sources_at(path)
    shown = prefix or "./"
    if not sources:
        raise click.ClickException(f"{shown}: no rule files (*.yaml) found")
    now = datetime.now(UTC)
    with new_session(current_app) as session:
        user = _editor(session, email)
        current = store.active(session)
        if current is None:
            raise click.ClickException(
                f"No rule set is active yet: run `{FLASK} rules activate` to start from the files first."
            )
        _require_publishable(sources, dict(current.version.sources), prefix)
        version = version_of(sources)
        if version == current.version.version:
            click.echo(f"The files in {shown} are the active version already ({version}); nothing to publish.")
            return
        waiting = _waiting_draft(session, version)
        if waiting is not None:
            click.echo(f"Draft {waiting.id} with these files ({version}) is already waiting for approval.")
            _echo_approval_hint(waiting.id)
            return
        title = title or f"Rule files from {shown} ({short(version)})"
        draft = _fail_on(
            lambda: drafts.start_draft(session, title=title, user=user, now=now, sources=sources, origin="files")
        )
        if _two_person():
            _fail_on(lambda: drafts.submit(session, draft, user=user, now=now))
            _commit(session)
            click.echo(f"{user.email} submitted draft {draft.id} ({version}) for approval.")
            click.echo(f"The active version is unchanged: {current.version.version}.")
            _echo_approval_hint(draft.id)
            return
        published = _fail_on(lambda: publishing.publish_now(session, draft, user=user, now=now, reviewed=version))
        _commit(session)
        click.echo(f"Published draft {draft.id}: version {published.version.version} is active; {_switch_note()}.")
        _write_files(published)


def _require_publishable(sources: Sources, active_sources: Sources, prefix: str) -> None:
    """Check files as a draft is checked; print every problem under ``prefix`` and exit 1 if there is one."""
    problems = []
    for name in sorted(sources):
        try:
            drafts.check_file_name(name)
        except ScreeningError as error:
            problems.append(f"{name}: {error.message}")
    problems.extend(checks.check_sources(sources, active_sources).problems)
    if problems:
        for problem in problems:
            click.echo(prefix + problem, err=True)
        raise click.ClickException(f"{plural(len(problems), 'problem')} in the rule files; nothing was published")


def _waiting_draft(session: orm.Session, version: str) -> RuleDraft | None:
    """Return a submitted draft holding exactly the files of ``version``, if there is one."""
    for draft in drafts.list_drafts(session):
        if draft.status == drafts.SUBMITTED and version_of(dict(draft.sources)) == version:
            return draft
    return None


def _echo_approval_hint(draft_id: int) -> None:
    """Print how a second person approves a submitted draft."""
    click.echo(
        "A physician or an administrator who did not write it reviews and approves it on the page "
        f"{_draft_page(draft_id)} or with: {FLASK} rules approve {draft_id} --version VERSION --by EMAIL, "
        f"VERSION being the version of the text they reviewed (`{FLASK} rules drafts` lists each draft's)."
    )


def _where_versions_are(draft_id: int) -> str:
    """Return where an approver finds the version of a draft's text."""
    return (
        f"`{FLASK} rules drafts` lists the version of each draft's text, and the page {_draft_page(draft_id)} shows it"
    )


@click.command("drafts")
@click.option("--all", "include_closed", is_flag=True, help="Also the published and discarded drafts.")
@needs_database
def drafts_command(include_closed: bool) -> None:
    """List the open drafts, newest change first, with the version of their text, which `approve --version` names."""
    with new_session(current_app) as session:
        listed = drafts.list_drafts(session, include_closed=include_closed)
        emails = user_emails(session, [id_ for draft in listed for id_ in (draft.created_by_id, draft.updated_by_id)])
        rows = [(draft, draft_version(draft)) for draft in listed]
    if not rows:
        click.echo("No draft is open." if not include_closed else "There are no drafts.")
        return
    for draft, version in rows:
        status = STATUS_LABELS.get(draft.status, draft.status).lower()
        author = emails.get(draft.created_by_id, f"user {draft.created_by_id}")
        click.echo(f"draft {draft.id}  {status}  {version}  by {author}: {draft.title}")
        editor = emails.get(draft.updated_by_id, f"user {draft.updated_by_id}")
        click.echo(f"    last change {utc(draft.updated_at)} by {editor}; {_draft_page(draft.id)}")


@click.command("approve")
@click.argument("draft_id", metavar="DRAFT", type=int)
@click.option("--by", "email", required=True, metavar="EMAIL", help="The physician or administrator approving.")
@click.option(
    "--version",
    "reviewed",
    metavar="VERSION",
    help="The version of the draft's text you reviewed (its hash, or at least 6 of its first digits).",
)
@needs_database
def approve_command(draft_id: int, email: str, reviewed: str | None) -> None:
    """Approve and publish the submitted draft number DRAFT; it becomes the active version for every worker.

    VERSION names the text reviewed: a draft changed since is refused, to be reviewed again.
    """
    now = datetime.now(UTC)
    with new_session(current_app) as session:
        user = _user(session, email)
        draft = _fail_on(lambda: drafts.get_draft(session, draft_id))
        if not (reviewed or "").strip():
            raise click.ClickException(
                "Say which text you reviewed with --version VERSION (its hash, or at least 6 of its first digits): "
                f"{_where_versions_are(draft_id)}. Nothing was published."
            )
        published = _fail_on(lambda: _approve(session, draft, user, now, reviewed or ""))
        _commit(session)
        click.echo(
            f"Approved draft {draft.id} as {user.email}: version {published.version.version} is active; "
            f"{_switch_note()}."
        )
        _write_files(published)


def _approve(session: orm.Session, draft: RuleDraft, user: User, now: datetime, reviewed: str) -> publishing.Published:
    """Approve as the rules pages do; a refusal because the draft changed after it was reviewed is audited."""
    try:
        return publishing.approve(session, draft, user=user, now=now, two_person=_two_person(), reviewed=reviewed)
    except ReviewOutdated as refused:
        session.rollback()
        record_refused_approval(session, refused, user=user, now=now)
        _commit(session)
        raise click.ClickException(f"{refused.message} {_where_versions_are(refused.draft_id)}.") from None


@click.command("rollback")
@click.argument("version_text", metavar="VERSION")
@click.option("--by", "email", required=True, metavar="EMAIL", help="The staff member or administrator rolling back.")
@needs_database
def rollback_command(version_text: str, email: str) -> None:
    """Make the stored VERSION (its hash, or at least 6 of its first digits) active again."""
    now = datetime.now(UTC)
    with new_session(current_app) as session:
        user = _user(session, email)
        version = _fail_on(lambda: store.find_version(session, version_text))
        published = _fail_on(lambda: publishing.rollback(session, version, user=user, now=now))
        _commit(session)
        click.echo(f"Rolled back to version {version.version} as {user.email}; {_switch_note()}.")
        _write_files(published)


@click.command("export")
@click.argument("version_text", metavar="VERSION")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into DIR even if it is not empty (its other .yaml files go).")
@needs_database
def export_command(version_text: str, directory: Path, force: bool) -> None:
    """Write the files of the stored VERSION into DIR, e.g. to commit them or to check them."""
    with new_session(current_app) as session:
        version = _fail_on(lambda: store.find_version(session, version_text))
        sources = dict(version.sources)
    if directory.exists() and any(directory.iterdir()) and not force:
        raise click.ClickException(
            f"{directory} is not empty; give an empty directory, or --force to replace its files"
        )
    try:
        store.write_files(directory, sources)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"could not write {directory}: {error}") from None
    click.echo(f"Wrote {plural(len(sources), 'file')} of version {version.version} to {directory}.")


@click.command("versions")
@needs_database
def versions_command() -> None:
    """List the stored versions, newest activation first, with who activated and approved each."""
    with new_session(current_app) as session:
        rows = store.activations(session)
        never = session.scalars(
            sa.select(RuleSetVersion)
            .where(~RuleSetVersion.id.in_(sa.select(RuleSetActivation.version_id)))
            .order_by(RuleSetVersion.id.desc())
        ).all()
        emails = user_emails(session, [actor_id(a.actor) for a, _ in rows] + [actor_id(a.approved_by) for a, _ in rows])
    if not rows and not never:
        click.echo(f"No version is stored yet. Run `{FLASK} rules activate` to start from the files.")
        return
    active_id = rows[0][1].id if rows else None
    for version, activations in _grouped(rows):
        mark = "*" if version.id == active_id else " "
        label = "  (active)" if version.id == active_id else ""
        click.echo(f"{mark} {short(version.version)}  stored {utc(version.activated_at)} from {version.origin}{label}")
        for activation in activations:
            click.echo("    " + _activation_line(activation, emails))
    for version in never:
        click.echo(
            f"  {short(version.version)}  stored {utc(version.activated_at)} from {version.origin}, never active"
        )


def _grouped(
    rows: list[tuple[RuleSetActivation, RuleSetVersion]],
) -> list[tuple[RuleSetVersion, list[RuleSetActivation]]]:
    """Group activations (newest first) by version, versions in the order of their newest activation."""
    groups: dict[int, tuple[RuleSetVersion, list[RuleSetActivation]]] = {}
    for activation, version in rows:
        groups.setdefault(version.id, (version, []))[1].append(activation)
    return list(groups.values())


def _activation_line(activation: RuleSetActivation, emails: dict[int, str]) -> str:
    """Return one activation: its number, when, kind, by whom, approved by whom, from which draft."""
    by = actor_name(activation.actor, emails)
    line = f"activation {activation.id}  {utc(activation.at)}  {activation.kind:<9}  by {by}"
    if activation.approved_by:
        line += f", approved by {actor_name(activation.approved_by, emails)}"
    if activation.draft_id is not None:
        line += f", draft {activation.draft_id}"
    return line
