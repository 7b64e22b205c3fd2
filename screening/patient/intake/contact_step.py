"""The contact step inside a draft: its answers are kept encrypted, never in the draft's clear-text steps.

A patient who declines keeps only that choice; one who gives details keeps the posted pairs sealed with the
contact key (``contacts.crypto``), so the database, the session cookie and the logs never hold them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...contacts import crypto
from ...contacts.details import ContactDetails
from ...models import Draft
from . import steps
from .contact_form import DECLINE
from .contact_form import ContactForm

KEY = "contact"


def kept_pairs(pairs: steps.Pairs) -> steps.Pairs:
    """Return what is kept of the posted pairs: only the choice when the patient declines."""
    if [DECLINE] in ([value] for name, value in pairs if name == "contact_choice"):
        return [["contact_choice", DECLINE]]
    return pairs


def store(draft: Draft, config: Mapping[str, Any], pairs: steps.Pairs) -> None:
    """Keep the contact step's pairs in the draft, encrypted."""
    draft.contact_sealed = crypto.seal(config, json.dumps(kept_pairs(pairs)))


def pairs_of(draft: Draft, config: Mapping[str, Any]) -> steps.Pairs | None:
    """Return the contact step's saved pairs, None when the patient has not reached it."""
    if draft.contact_sealed is None:
        return None
    pairs: steps.Pairs = json.loads(crypto.unseal(config, draft.contact_sealed))
    return pairs


def saved_steps(draft: Draft, config: Mapping[str, Any]) -> dict[str, steps.Pairs]:
    """Return every step's saved pairs, the contact step's decrypted."""
    saved = dict(draft.steps)
    contact = pairs_of(draft, config)
    if contact is not None:
        saved[KEY] = contact
    return saved


def saved(draft: Draft, config: Mapping[str, Any]) -> steps.SavedSteps:
    """Return what the draft keeps of every step; the contact step's pairs are decrypted only when needed.

    They are needed when the step has no kept answers (it is not valid, or was saved under another form
    version) and must be validated again.
    """
    answers = steps.kept_answers(draft.answers)
    pairs = dict(draft.steps) if KEY in answers else saved_steps(draft, config)
    return steps.SavedSteps(pairs=pairs, answers=answers)


def details_of(draft: Draft, config: Mapping[str, Any]) -> ContactDetails | None:
    """Return the contact details the draft holds, None when declined; raise StepIncomplete when not valid."""
    form = steps.load_form(steps.BY_KEY[KEY], pairs_of(draft, config))
    if not isinstance(form, ContactForm) or not form.validate():
        raise steps.StepIncomplete(steps.BY_KEY[KEY])
    return form.details()
