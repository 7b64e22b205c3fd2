"""The dry-run pages: start a dry run of a draft, watch its progress, read its comparison.

A run is stored and handed to the task queue, so its page can be left and opened again; the page
polls a small JSON progress address (without JavaScript, a reload shows the same). Only one run
goes at a time, so a dry run never holds up the queue's urgent work for long.

Staff and admins start and resume runs; physicians read them. The changed submissions' fact values
(age, diagnoses, history, item 9...) reach the page for clinical roles only: staff get the report
without them, so no template can show them.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from flask import abort
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import orm
from werkzeug.wrappers import Response

from ..auth.accounts import current_user
from ..auth.roles import require_roles
from ..db import get_session
from ..models import BacktestRun
from ..models import RuleDraft
from ..models import RuleSetVersion
from ..active_rules import active_ruleset
from . import dry_run_reports
from . import dry_run_store
from . import dry_runs
from . import drafts
from .errors import TuningConflict
from .errors import TuningError
from .errors import TuningInvalid
from .errors import TuningNotFound
from .forms import DryRunForm
from .forms import dry_run_form
from .views import ID
from .views import bp

#: Changed submissions listed per page.
CHANGES_PER_PAGE = 100
MAX_PAGE = 10_000
#: What a result page shows of the version compared with and of the draft: not their files.
_NAMED_VERSION = orm.load_only(RuleSetVersion.id, RuleSetVersion.version)
_NAMED_DRAFT = orm.load_only(RuleDraft.id, RuleDraft.title)


@bp.post(f"/drafts/<{ID}:draft_id>/dry-runs")
@require_roles(*dry_run_store.DRY_RUN_ROLES)
def start_dry_run(draft_id: int) -> Response | tuple[str, int]:
    """Store a dry run of the draft and hand it to the task queue; show its page."""
    session = get_session()
    draft = drafts.get_draft(session, draft_id)
    form = dry_run_form(session, request.form)
    if not form.validate():
        problems = [f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()]
        flash("The dry run was not started. " + " ".join(problems), "error")
        return redirect(url_for("tuning.draft", draft_id=draft.id) + "#dry-run-heading")
    try:
        run = _start(session, draft.id, dict(draft.sources), form)
    except TuningError as error:
        session.rollback()
        flash(error.message, "error")
        return redirect(url_for("tuning.draft", draft_id=draft.id) + "#dry-run-heading")
    session.commit()
    dry_runs.enqueue_backtest(current_app, run.id)
    return redirect(url_for("tuning.dry_run", run_id=run.id))


def _start(session: orm.Session, draft_id: int, sources: dict[str, str], form: DryRunForm) -> BacktestRun:
    """Check that no other run is going, then store the new one."""
    going = _running(session, datetime.now(UTC))
    if going is not None:
        raise TuningConflict(
            f"Dry run {going.id} is still running ({going.processed:,} of {going.total:,} submissions); "
            "only one runs at a time. Wait for it; the rules home lists it under Recent dry runs."
        )
    against = session.get(RuleSetVersion, form.against.data) if form.against.data else None
    if against is None:
        raise TuningInvalid("Choose a stored version to compare with.")
    first, last = dry_run_store.day_range(form.submitted_from.data, form.submitted_to.data)
    return dry_run_store.start_backtest(
        session,
        candidate_sources=sources,
        against=against,
        actor=current_user.actor,
        now=datetime.now(UTC),
        draft_id=draft_id,
        submitted_from=first,
        submitted_to=last,
    )


def _running(session: orm.Session, now: datetime) -> BacktestRun | None:
    """Return a queued or running dry run that is still moving, if any."""
    going = session.scalars(
        sa.select(BacktestRun)
        .options(*dry_run_store.LIGHT)
        .where(BacktestRun.status.in_((dry_run_store.QUEUED, dry_run_store.RUNNING)))
        .order_by(BacktestRun.id.desc())
    ).all()
    return next((run for run in going if not dry_run_store.is_stalled(run, now)), None)


@bp.get(f"/dry-runs/<{ID}:run_id>")
def dry_run(run_id: int) -> str:
    """Show a dry run: its progress while it runs, then the comparison."""
    session = get_session()
    run = dry_run_store.get_run(session, run_id, light=True)
    page = _page_number()
    facts_shown = current_user.has_role(*dry_run_store.FACT_ROLES)
    shown = slice((page - 1) * CHANGES_PER_PAGE, page * CHANGES_PER_PAGE)
    result = dry_run_reports.report(session, run, with_facts=facts_shown, changes=shown)
    pages = max(1, -(-result.changes_kept // CHANGES_PER_PAGE)) if result else 1
    if result is not None and page > pages:
        raise TuningNotFound(f"This dry run has {pages} page(s) of changed submissions, not {page}.")
    return render_template(
        "tuning/dry_run.html",
        run=run,
        report=result,
        changes=result.changes if result else (),
        page=page,
        pages=pages,
        first_change=(page - 1) * CHANGES_PER_PAGE + 1,
        against=session.get(RuleSetVersion, run.against_version_id, options=(_NAMED_VERSION,)),
        draft=drafts.get_draft(session, run.draft_id, options=(_NAMED_DRAFT,)) if run.draft_id else None,
        stalled=dry_run_store.is_stalled(run, datetime.now(UTC)),
        percent=dry_run_reports.percent_done(run),
        titles=_outcome_titles(),
        facts_shown=facts_shown,
    )


def _page_number() -> int:
    """Return the page of changed submissions asked for; a bad number (``²``, ``١``, ``-1``) is a 404, not a 500."""
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_PAGE))) or not 1 <= int(raw) <= MAX_PAGE:
        abort(404)
    return int(raw)


def _outcome_titles() -> dict[str, str]:
    """Return the titles of the active rule set's outcomes, for table labels."""
    ruleset = active_ruleset()
    return {name: spec.title for name, spec in ruleset.outcomes.items()} if ruleset else {}


@bp.get(f"/dry-runs/<{ID}:run_id>/progress")
def dry_run_progress(run_id: int) -> Response:
    """Return a run's progress as JSON, for the page to poll."""
    run = dry_run_store.get_run(get_session(), run_id, light=True)
    return jsonify(
        status=run.status,
        processed=run.processed,
        total=run.total,
        percent=dry_run_reports.percent_done(run),
        stalled=dry_run_store.is_stalled(run, datetime.now(UTC)),
    )


@bp.post(f"/dry-runs/<{ID}:run_id>/resume")
@require_roles(*dry_run_store.DRY_RUN_ROLES)
def resume_dry_run(run_id: int) -> Response:
    """Hand an interrupted run to the task queue again; it starts over from its stored files."""
    session = get_session()
    run = dry_run_store.get_run(session, run_id, light=True)
    if not dry_run_store.is_stalled(run, datetime.now(UTC)):
        flash("This dry run is not interrupted, so it was left as it is.", "warning")
    else:
        dry_runs.enqueue_backtest(current_app, run.id)
        flash(f"Dry run {run.id} was started again.")
    return redirect(url_for("tuning.dry_run", run_id=run.id))
