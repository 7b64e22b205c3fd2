"""The rule-tuning pages: the rules home, versions, diffs, drafts and their editor, tests.

The tuning blueprint lives here; ``step_views`` adds the steps on a draft (submit, approve, publish...) and
roll-back, ``dry_run_views`` the dry-run pages.

Views are thin: read the request, call ``drafts``, commit, redirect with a message. A refused step
(TuningError) becomes that message, or the page again with what the user typed and a 4xx status;
never a 500. Physicians read everything and approve; staff and admins write drafts and start dry runs.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import orm
from werkzeug.wrappers import Response

from ..auth import clock
from ..auth.accounts import current_user
from ..auth.roles import guard_blueprint
from ..db import get_session
from ..errorpages import ERROR
from ..models import RuleDraft
from ..active_rules import active_ruleset
from . import checks
from . import drafts
from . import draft_pages
from . import pages
from . import wording
from .errors import TuningConflict
from .errors import TuningError
from .errors import TuningInvalid
from .forms import NewFileForm
from .forms import SaveFileForm
from .forms import SendBackForm
from .forms import StartDraftForm
from .forms import dry_run_form
from .diff_page import diff_context
from .draft_pages import NEW_FILE_TEXT
from .draft_pages import draft_context
from .draft_pages import editor_context
from .pages import home_context
from .pages import tests_context
from .pages import version_context
from . import dry_run_store
from . import publishing

bp = Blueprint("tuning", __name__, url_prefix="/rules")
# Staff land here after signing in; physicians keep the review queue and admins the user list.
guard_blueprint(bp, "staff", "admin", "physician", home={"staff": "tuning.home"})

#: Ids in addresses: larger numbers are no row's id (and overflow PostgreSQL's integer), so they are a 404.
ID = "int(max=2147483647)"
WARNING = "warning"
#: The message of a save that leaves the draft unloadable: saved, yet an error to fix.
UNLOADABLE = "unloadable"


@bp.context_processor
def _helpers() -> dict[str, Any]:
    """Give the tuning templates their labels and formatters, and what the signed-in user may do."""
    return {
        "utc": wording.utc,
        "short": wording.short,
        "plural": wording.plural,
        "status_labels": wording.STATUS_LABELS,
        "kind_labels": wording.KIND_LABELS,
        "may_edit": _may_edit(),
        "may_roll_back": current_user.has_role(*publishing.ROLLBACK_ROLES),
        "may_dry_run": current_user.has_role(*dry_run_store.DRY_RUN_ROLES),
    }


def _may_edit() -> bool:
    """Return True when the signed-in user may write drafts."""
    return bool(current_user.has_role(*drafts.EDITOR_ROLES))


def needs_second_person() -> bool:
    """Return whether publishing needs a second person."""
    return bool(current_app.config["RULES_TWO_PERSON"])


# --- Home, versions, diff ----------------------------------------------------------------------------


@bp.get("/")
def home(form: StartDraftForm | None = None, status: int = 200, problem: str | None = None) -> tuple[str, int]:
    """Show the active version, every worker's state, the history and the open drafts."""
    active_ruleset()  # this worker reports its state (and, on the very first start, activates the files)
    db = get_session()
    context = home_context(db, clock.now(), all_drafts=request.args.get("drafts") == "all")
    return render_template("tuning/home.html", form=form or StartDraftForm(), problem=problem, **context), status


@bp.get(f"/versions/<{ID}:version_id>")
@bp.get(f"/versions/<{ID}:version_id>/files/<path:name>")
def version(version_id: int, name: str | None = None) -> str:
    """Show a stored version: its files, or one file with line numbers."""
    return render_template("tuning/version.html", **version_context(get_session(), version_id, name))


@bp.get(f"/versions/<{ID}:version_id>/tests")
def version_tests(version_id: int) -> str:
    """Show the test results of a stored version."""
    version = pages.get_version(get_session(), version_id)
    return render_template("tuning/tests.html", **tests_context(dict(version.sources), None), version=version)


@bp.get("/diff")
def diff() -> tuple[str, int]:
    """Compare two versions or drafts side by side; a bad or unknown side is a message, not a failure."""
    context = diff_context(get_session(), request.args.get("left"), request.args.get("right"))
    return render_template("tuning/diff.html", **context), context["status"]


# --- Drafts: pages -----------------------------------------------------------------------------------


@bp.post("/drafts")
def start() -> Response | tuple[str, int]:
    """Start a draft from the active version and open it."""
    form = StartDraftForm(request.form)
    db = get_session()
    try:
        draft = drafts.start_draft(db, title=form.title.data or "", user=current_user.user, now=clock.now())
        db.commit()
    except TuningError as error:
        db.rollback()
        if not isinstance(error, TuningInvalid):
            flash(error.message, ERROR)
            return redirect(url_for("tuning.home") + "#start-heading")
        form.title.errors = [error.message]  # beside the field and in the error summary, which takes the focus
        return home(form, error.http_status)
    flash(f"Draft {draft.id} started from the active version.")
    return redirect(url_for("tuning.draft", draft_id=draft.id))


@bp.get(f"/drafts/<{ID}:draft_id>")
def draft(draft_id: int, **forms: Any) -> tuple[str, int]:
    """Show a draft: its files, its check, and the steps open to this user."""
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    status = forms.pop("status", 200)
    context = draft_context(db, found, current_user.user, two_person=needs_second_person())
    runs = {"dry_form": dry_run_form(db), "dry_runs": dry_run_store.recent_runs(db, 10, draft_id=found.id)}
    forms = {"new_file": NewFileForm(), "send_back": SendBackForm(), "problem": None, **runs, **forms}
    return render_template("tuning/draft.html", **context, **forms), status


@bp.get(f"/drafts/<{ID}:draft_id>/tests")
def draft_tests(draft_id: int) -> str:
    """Show the draft's test cases with expected and actual results, or its load errors."""
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    context = tests_context(dict(found.sources), pages.active_sources(db))
    return render_template("tuning/tests.html", **context, draft=found)


@bp.get(f"/drafts/<{ID}:draft_id>/files/<path:name>")
def edit_file(draft_id: int, name: str) -> str:
    """Show one file of a draft in the editor (read-only when this user or the draft's state cannot edit)."""
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    text = pages.file_text(found.sources, name, f"Draft {draft_id}")
    form = SaveFileForm(data={"text": text, "started_from": drafts.digest(text)})
    return render_template("tuning/editor.html", **editor_context(db, found, name, form, may_edit=_may_edit()))


@bp.post(f"/drafts/<{ID}:draft_id>/files/<path:name>")
def save_file(draft_id: int, name: str) -> Response | tuple[str, int]:
    """Save one file; a save over somebody's newer edit is refused with both texts shown (409)."""
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    if "text" not in request.form:
        flash("Nothing was sent to save. Edit the file below and use its Save button.", ERROR)
        return redirect(url_for("tuning.edit_file", draft_id=draft_id, name=name))
    form = SaveFileForm(request.form)
    if not form.validate():
        return _editor_again(db, found, name, form, None, 422)
    try:
        check = drafts.save_file(  # checks the text first, then writes: no lock is held while it is parsed
            db,
            found,
            name=name,
            text=form.text.data or "",
            started_from=form.base,
            user=current_user.user,
            now=clock.now(),
        )
        db.commit()
    except TuningError as error:
        db.rollback()
        found = drafts.get_draft(db, draft_id)
        theirs = found.sources.get(name)
        if _text_conflict(error, found, draft_pages.started_from(theirs), form.started_from.data):
            form.started_from.data = draft_pages.started_from(theirs)
            return _editor_again(db, found, name, form, error.message, 409, theirs=theirs, conflict=True)
        return _editor_again(db, found, name, form, error.message, error.http_status)
    flash(_saved_message(check), _saved_category(check))
    return redirect(url_for("tuning.edit_file", draft_id=draft_id, name=name))


def _text_conflict(error: TuningError, draft: RuleDraft, saved: str, started: str | None) -> bool:
    """Return True when a save was refused because somebody saved other text since the editor opened."""
    return isinstance(error, TuningConflict) and draft.status == drafts.EDITING and saved != started


def _editor_again(
    db: orm.Session, draft: RuleDraft, name: str, form: SaveFileForm, message: str | None, status: int, **conflict: Any
) -> tuple[str, int]:
    """Render the editor again with the user's own text, the reason, and (on a conflict) the other text."""
    context = editor_context(db, draft, name, form, may_edit=_may_edit(), message=message, **conflict)
    return render_template("tuning/editor.html", **context), status


def _saved_category(check: checks.Check) -> str:
    """Return how a save's message is shown: an error when the draft does not load, a note for other problems."""
    if not check.loads:
        return UNLOADABLE
    return WARNING if check.problems else "message"


def _saved_message(check: checks.Check) -> str:
    """Return what a save reports: the problems left, or that the draft is clean."""
    if check.problems:
        return f"Saved; {wording.plural(len(check.problems), 'problem')}."
    return f"Saved; the draft loads and all {wording.plural(len(check.results), 'test')} pass."


@bp.post(f"/drafts/<{ID}:draft_id>/files")
def add_file(draft_id: int) -> Response | tuple[str, int]:
    """Add a new, empty rule file to a draft and open it."""
    form = NewFileForm(request.form)
    name = (form.name.data or "").strip()
    db = get_session()
    found = drafts.get_draft(db, draft_id)
    try:
        drafts.save_file(
            db, found, name=name, text=NEW_FILE_TEXT, started_from=None, user=current_user.user, now=clock.now()
        )
        db.commit()
    except TuningError as error:
        db.rollback()
        if not isinstance(error, TuningInvalid) or not name:
            flash(error.message, ERROR)
            return redirect(url_for("tuning.draft", draft_id=draft_id) + "#files-heading")
        form.name.errors = [error.message]
        return draft(draft_id, new_file=form, problem=error.message, status=error.http_status)
    flash(f"{name} added to the draft.")
    return redirect(url_for("tuning.edit_file", draft_id=draft_id, name=name))
