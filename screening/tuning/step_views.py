"""The steps taken on a draft from its page, and roll-back: remove a file, submit, withdraw, discard, send back,
approve, publish; make an earlier version active again.

Each step is thin: call ``drafts``, commit, redirect to the draft's page with what happened. A refused step
(TuningError) becomes that message; a second step at the same moment is a message too, never a 500. These routes
belong to the tuning blueprint of ``views``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..auth import clock
from .. import errorpages
from ..auth.accounts import current_user
from ..db import get_session
from ..errorpages import ERROR
from ..models import RuleDraft
from ..models import User
from ..active_rules import registry
from . import drafts
from .errors import ReviewOutdated
from .errors import TuningConflict
from .errors import TuningError
from .errors import TuningInvalid
from .forms import SendBackForm
from .pages import get_version
from .reviewed import record_refused_approval

from .views import ID
from .views import WARNING
from .views import bp
from .views import draft
from .views import needs_second_person
from . import publishing

log = logging.getLogger(__name__)

AT_THE_SAME_MOMENT = "Somebody changed the rules at the same moment; look at the page again and retry."
Step = Callable[[orm.Session, RuleDraft, User, datetime], str]


def _step(draft_id: int, step: Step) -> Response:
    """Take one step on a draft and commit it; say what happened on the draft's page."""
    db = get_session()
    return errorpages.take_step(
        db,
        lambda: step(db, drafts.get_draft(db, draft_id), current_user.user, clock.now()),
        back=url_for("tuning.draft", draft_id=draft_id),
        gone=url_for("tuning.home"),
        refused=TuningError,
        at_the_same_moment=AT_THE_SAME_MOMENT,
    )


@bp.post(f"/drafts/<{ID}:draft_id>/files/<path:name>/remove")
def remove_file(draft_id: int, name: str) -> Response:
    """Remove a file from a draft, refused if somebody changed it since it was opened."""
    started = request.form.get("started_from", "")

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        drafts.remove_file(db, found, name=name, started_from=started, user=user, now=now)
        return f"{name} removed from the draft."

    return _step(draft_id, step)


@bp.post(f"/drafts/<{ID}:draft_id>/submit")
def submit(draft_id: int) -> Response:
    """Send a draft for approval; refused unless it loads, passes its tests and leaves the safety rule alone."""

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        drafts.submit(db, found, user=user, now=now)
        return "Submitted: a physician or an administrator who did not edit it can now approve it."

    return _step(draft_id, step)


@bp.post(f"/drafts/<{ID}:draft_id>/withdraw")
def withdraw(draft_id: int) -> Response:
    """Take a submitted draft back for more editing."""

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        drafts.withdraw(db, found, user=user, now=now)
        return "Withdrawn: the draft can be edited again."

    return _step(draft_id, step)


@bp.post(f"/drafts/<{ID}:draft_id>/discard")
def discard(draft_id: int) -> Response:
    """Give up a draft; it stays readable."""

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        drafts.discard(db, found, user=user, now=now)
        return "Discarded. The draft stays readable but can no longer be edited or published."

    return _step(draft_id, step)


@bp.post(f"/drafts/<{ID}:draft_id>/send-back")
def send_back(draft_id: int) -> Response | tuple[str, int]:
    """Return a submitted draft to its authors with the reviewer's note; a refused note is shown again."""
    form = SendBackForm(request.form)
    note = form.note.data or ""
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    try:
        drafts.send_back(db, found, user=current_user.user, note=note, now=clock.now())
        db.commit()
    except TuningError as error:
        db.rollback()
        if not isinstance(error, TuningInvalid) or not note.strip():
            flash(error.message, ERROR)
            return redirect(url_for("tuning.draft", draft_id=draft_id))
        form.note.errors = [error.message]
        return draft(draft_id, send_back=form, problem=error.message, status=error.http_status)
    flash("Sent back to its authors with your note.")
    return redirect(url_for("tuning.draft", draft_id=draft_id))


@bp.post(f"/drafts/<{ID}:draft_id>/approve")
def approve(draft_id: int) -> Response:
    """Approve and publish a submitted draft (a second person, unless the two-person rule is off).

    The form names the version of the text its page showed; a draft changed since is refused, audited.
    """
    addr, two_person, reviewed = request.remote_addr, needs_second_person(), request.form.get("reviewed", "")

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        with _audited_refusal(db, user, now, addr):
            published = publishing.approve(
                db, found, user=user, now=now, two_person=two_person, reviewed=reviewed, remote_addr=addr
            )
        return _published(db, published, now)

    return _step(draft_id, step)


@bp.post(f"/drafts/<{ID}:draft_id>/publish")
def publish(draft_id: int) -> Response:
    """Submit and publish in one step; only when the clinic turned the two-person rule off."""
    addr, reviewed = request.remote_addr, request.form.get("reviewed", "")

    def step(db: orm.Session, found: RuleDraft, user: User, now: datetime) -> str:
        if needs_second_person():
            raise TuningConflict(
                "The two-person rule is on: submit the draft, then a physician or an administrator approves it."
            )
        with _audited_refusal(db, user, now, addr):
            published = publishing.publish_now(db, found, user=user, now=now, reviewed=reviewed, remote_addr=addr)
        return _published(db, published, now)

    return _step(draft_id, step)


@contextmanager
def _audited_refusal(db: orm.Session, user: User, now: datetime, addr: str | None) -> Iterator[None]:
    """Keep an audit event of an approval refused because the draft changed since it was opened."""
    try:
        yield
    except ReviewOutdated as refused:
        db.rollback()
        record_refused_approval(db, refused, user=user, now=now, remote_addr=addr)
        db.commit()
        raise


@bp.post(f"/versions/<{ID}:version_id>/rollback")
def rollback(version_id: int) -> Response:
    """Make an earlier version active again in one step."""
    db, now = get_session(), clock.now()
    try:
        version = get_version(db, version_id)
        published = publishing.rollback(db, version, user=current_user.user, now=now, remote_addr=request.remote_addr)
        flash(_published(db, published, now, done="Rolled back to"))
    except TuningError as error:
        db.rollback()
        flash(error.message, ERROR)
    except IntegrityError:
        db.rollback()
        flash(AT_THE_SAME_MOMENT, ERROR)
    return redirect(url_for("tuning.home"))


def _published(db: orm.Session, published: publishing.Published, now: datetime, done: str = "Published") -> str:
    """Commit a new active version, write its files, switch this worker; return what to tell the user."""
    db.commit()
    directory = Path(current_app.config["RULES_DIR"])
    written = publishing.write_published_files(directory, published)
    try:
        registry(current_app).refresh(now)
    except Exception:  # the database already names the version: every worker switches at its next check
        log.exception("this worker could not switch to %s at once", published.version.version)
    if written.files_error:
        flash(
            f"The files in {directory.name}/ could not be written ({written.files_error}); every worker uses "
            "the new version anyway, but the files on disk now differ from it.",
            WARNING,
        )
    seconds = float(current_app.config["RULES_CHECK_SECONDS"])
    return f"{done} version {published.version.version}; every worker switches within {seconds:g} seconds."
