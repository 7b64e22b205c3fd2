"""The contact panel of a submission's page: how the clinic may reach the patient, read for one viewer.

Every build reads the details through ``contacts.service.read_contact``, so every view is audited
(``contact.viewed``, the reference and the viewer only). Only physicians (on the review page) and admins (on
their own page) get here: their blueprints' guards decide, this module does not look at roles.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import orm

from ..contacts.crypto import ContactKeyError
from ..contacts.details import METHOD_LABELS
from ..contacts.details import TIME_LABELS
from ..contacts.details import ContactDetails
from ..contacts.details import display_phone
from ..contacts.service import read_contact
from ..models import Submission
from ..models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContactPanel:
    """What the panel shows; ``details`` is None when the patient chose not to be contacted."""

    reference: str
    details: ContactDetails | None
    in_service_area: bool
    #: A safety case: the callback details lead the page.
    first: bool
    #: The details are stored but no key of the settings decrypts them (a key was removed too early).
    unreadable: bool = False

    @property
    def phone_shown(self) -> str | None:
        """Return the phone number as a person dials it, None when none was given."""
        phone = self.details.phone if self.details is not None else None
        return display_phone(phone) if phone else None

    @property
    def method(self) -> str:
        """Return the preferred way of contact in words."""
        return METHOD_LABELS.get(self.details.preferred_method, "") if self.details is not None else ""

    @property
    def time(self) -> str:
        """Return the preferred time of contact in words."""
        return TIME_LABELS.get(self.details.preferred_time, "") if self.details is not None else ""


def contact_panel(
    session: orm.Session,
    config: Mapping[str, Any],
    submission: Submission,
    *,
    viewer: User,
    now: datetime,
    remote_addr: str | None = None,
) -> ContactPanel:
    """Return the panel of ``submission`` for ``viewer``, recording the view in the caller's transaction."""
    try:
        details = read_contact(session, config, submission.id, viewer=viewer, now=now, remote_addr=remote_addr)
    except ContactKeyError:
        log.error("contact details of submission %s cannot be decrypted with the keys set", submission.id)
        details, unreadable = None, True
    else:
        unreadable = False
    context = submission.context_facts or {}
    return ContactPanel(
        reference=submission.reference,
        details=details,
        in_service_area=bool(context.get("in_service_area", True)),
        first=bool(submission.safety_flag),
        unreadable=unreadable,
    )
