"""What the physicians' pages show, ready for the templates: labels, waiting times, the detail page's context.

The clinical presentation (scores on their scales, trials, answers) is ``clinical``'s.

Read-only helpers over what ``service`` returns; the views in ``views`` render them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import vocabulary
from ..engine.model import RuleSet
from . import clinical
from .formatting import fact_value
from .formatting import utc
from .formatting import waited
from . import service
from .forms import SafetyFollowupForm

STATUS_LABELS = {"open": "Open", "claimed": "Claimed", "decided": "Decided"}
DECISION_LABELS = {
    "consult": "Invite to a consultation",
    "decline": "Decline (give the reason in the note)",
    "request_info": "Ask the patient for more information",
    "safety_followup_done": "Safety follow-up done",
}
ACTION_LABELS = {
    "claim": "Claimed",
    "release": "Released",
    "take_over": "Took over",
    "decide": "Decided",
    "reopen": "Reopened",
}


# --- Presentation -----------------------------------------------------------------------------


def outcome_titles(ruleset: RuleSet | None) -> dict[str, str]:
    """Return the title of each outcome of the rule set, in queue order."""
    if ruleset is None:
        return {}
    ordered = sorted(ruleset.outcomes.items(), key=lambda item: item[1].priority)
    return {name: spec.title for name, spec in ordered}


def list_outcomes(ruleset: RuleSet | None, counts: Mapping[str, int], *, needs_action: bool) -> dict[str, str]:
    """Return the outcomes a list can show (with their titles): the rule set's, and any that has rows."""
    titles = outcome_titles(ruleset)
    specs = ruleset.outcomes if ruleset is not None else {}
    shown = {name: title for name, title in titles.items() if specs[name].needs_action == needs_action}
    return {**shown, **{name: titles.get(name, name) for name in counts if name not in shown}}


def detail_context(found: service.Detail, user_id: int) -> dict[str, Any]:
    """Return what the detail page shows, ready for the template."""
    submission, decision = found.submission, found.decision
    facts = decision.facts if decision is not None else {}
    contraindications = facts.get("contraindications") or []
    return {
        "detail": found,
        "submission": submission,
        "decision": decision,
        "mine": submission.assignee_id == user_id,
        "sections": clinical.answer_sections(submission.answers or {}),
        "scores": clinical.score_rows(submission.scores or {}),
        "fibromyalgia": (submission.scores or {}).get("fibromyalgia_acr2016"),
        "trials": clinical.trial_rows(submission.answers or {}, decision.trials if decision is not None else None),
        "facts": facts,
        "contraindications": [vocabulary.label(vocabulary.MEDICAL_HISTORY, code) for code in contraindications],
        # A safety follow-up has a form of its own, which asks for the result of the contact attempt.
        "choices": {code: label for code, label in DECISION_LABELS.items() if code != service.SAFETY_FOLLOWUP},
        "followup": SafetyFollowupForm() if submission.safety_flag else None,
    }


def labels() -> dict[str, Any]:
    """Return the labels and helpers every review template uses."""
    return {
        "status_labels": STATUS_LABELS,
        "decision_labels": DECISION_LABELS,
        "action_labels": ACTION_LABELS,
        "waited": waited,
        "utc": utc,
        "fact_value": fact_value,
        "contact_results": service.CONTACT_RESULTS,
    }
