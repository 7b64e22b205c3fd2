"""The admin pages: the list of users, disabling a user or changing their role, and the audit log.

The audit log is read-only: there is a page and a CSV export (both GET, both audited), and no
route that edits or deletes an audit row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import stream_with_context
from flask import url_for
from werkzeug.wrappers import Response
from wtforms import Form
from wtforms import StringField

from .. import audit
from ..auth import clock
from ..auth.accounts import current_user
from ..auth.roles import ROLES
from ..auth.roles import guard_blueprint
from ..db import get_session
from ..fhir.download_views import bundle_download
from ..review.contact_panel import contact_panel
from ..models import AuditEvent
from ..models import Submission
from ..models import User
from . import audit_log
from . import service

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, "admin", home="admin.users")


def _refuse_own_account(user_id: int, what: str) -> None:
    """Stop an admin from locking themselves out; another admin (or the CLI) can do it."""
    if user_id == current_user.id:
        raise service.AccountError(f"You cannot {what} your own account. Ask another admin, or use the command line.")


@bp.get("/users")
def users() -> str:
    """List the users with their role, status and last sign-in."""
    return render_template("admin/users.html", users=service.list_users(get_session()), roles=ROLES, now=clock.now())


@bp.post("/users/<int:user_id>/disable")
def disable(user_id: int) -> Response:
    """Disable a user; their sessions end at once."""
    _refuse_own_account(user_id, "disable")
    db = get_session()
    user = service.get_user(db, user_id)
    changed = service.disable_user(db, user, actor=current_user.actor, at=clock.now(), remote_addr=request.remote_addr)
    db.commit()
    flash(f"{user.email} is disabled and signed out." if changed else f"{user.email} was already disabled.")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> Response:
    """Give a user another role; their sessions end, so the new role applies from their next sign-in."""
    _refuse_own_account(user_id, "change the role of")
    db = get_session()
    user = service.get_user(db, user_id)
    role = request.form.get("role", "")
    changed = service.set_role(
        db, user, role, actor=current_user.actor, at=clock.now(), remote_addr=request.remote_addr
    )
    db.commit()
    flash(f"{user.email} is now {role}." if changed else f"{user.email} already had the role {role}.")
    return redirect(url_for("admin.users"))


class AuditFilterForm(Form):
    """The audit page's filters, read from the query string (GET: nothing changes, so no CSRF token)."""

    action = StringField("Action", description="An exact action, or a prefix ending in *, such as review.*")
    actor = StringField("Actor", description="user:3, cli, patient, anonymous or system, or a user's email address")
    subject_type = StringField(
        "Subject type", description="submission, user, alert, draft, rule_draft, ruleset_version or backtest_run"
    )
    subject_id = StringField("Subject id", description="The number of the submission, user or alert")
    since = StringField("From (UTC)", name="from", description="First day, as YYYY-MM-DD")
    until = StringField("To (UTC)", name="to", description="Last day, as YYYY-MM-DD")


def _audit_filters() -> tuple[AuditFilterForm, audit_log.AuditFilters, bool]:
    """Read the filters of the request; the form carries any error beside its field."""
    form = AuditFilterForm(request.args)
    filters, errors = audit_log.parse_filters(get_session(), request.args)
    for name, message in errors.items():
        form[{"from": "since", "to": "until"}.get(name, name)].errors = [message]
    return form, filters, not errors


def _record(action: str, filters: audit_log.AuditFilters, **details: audit.DetailValue) -> AuditEvent:
    """Add the audit event of reading the audit log, with the filters used."""
    return audit.record(
        get_session(),
        actor=current_user.actor,
        action=action,
        subject_type="audit_event",
        subject_id=None,
        at=clock.now(),
        remote_addr=request.remote_addr,
        details={**filters.as_details(), **details},
    )


@bp.get("/audit")
def audit_events() -> tuple[str, int]:
    """Show the audit trail, newest first, a page at a time; viewing it is audited too."""
    form, filters, valid = _audit_filters()
    page, before = None, request.args.get("before") or None
    if valid:
        try:
            page = audit_log.audit_page(get_session(), filters, before=before)
        except audit_log.InvalidCursor:
            page, before = audit_log.audit_page(get_session(), filters), None
            flash("That page link was not valid, so the newest events are shown.")
        _record("audit.viewed", filters, rows=len(page.rows), first_page=before is None)
        get_session().commit()
    context = {
        "form": form,
        "page": page,
        "args": filters.as_args() if valid else {},
        "before": before,
        "emails": _emails_of(page.rows if page else ()),
        "details_text": audit_log.details_text,
        "known_actions": audit_log.KNOWN_ACTIONS,
        "known_subject_types": audit_log.KNOWN_SUBJECT_TYPES,
    }
    return render_template("admin/audit.html", **context), 200 if valid else 422


def _emails_of(rows: tuple[AuditEvent, ...]) -> dict[str, str]:
    """Return the email of each "user:<id>" actor on the page, so the admin sees who it was."""
    ids = {int(row.actor[5:]) for row in rows if row.actor.startswith("user:") and row.actor[5:].isdigit()}
    if not ids:
        return {}
    found = get_session().execute(sa.select(User.id, User.email).where(User.id.in_(ids)))
    return {f"user:{user_id}": email for user_id, email in found}


@bp.get("/audit.csv")
def audit_export() -> Response | tuple[str, int]:
    """Download the filtered audit trail as CSV; the export is audited before it starts."""
    _form, filters, valid = _audit_filters()
    if not valid:
        return audit_events()
    event = _record("audit.exported", filters)
    get_session().commit()
    below_id = event.id

    @stream_with_context
    def generate() -> Iterator[str]:
        """Write the rows as the query streams them; the request's session closes when the last is sent."""
        yield from audit_log.csv_lines(audit_log.iter_events(get_session(), filters, below_id=below_id))

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = Response(generate(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@bp.get("/submissions/<int:submission_id>/contact")
def submission_contact(submission_id: int) -> str:
    """Show how the clinic may reach the patient of one submission (e.g. when they call in); audited."""
    db = get_session()
    submission = db.get(Submission, submission_id) or abort(404)
    panel = contact_panel(
        db, current_app.config, submission, viewer=current_user.user, now=clock.now(), remote_addr=request.remote_addr
    )
    db.commit()
    return render_template("admin/contact.html", contact=panel, submission_id=submission_id)


@bp.get("/submissions/<int:submission_id>/fhir")
def submission_fhir(submission_id: int) -> Response:
    """Download one submission as a FHIR R4 Bundle (JSON, no contact details); audited."""
    return bundle_download(submission_id)
