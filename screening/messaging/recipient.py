"""Where a patient message is sent: the e-mail of the contact details, only when the patient consented.

The one place the messages read the contact details (``screening.contacts``, on its own branch until merged).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import orm


def consented_email(session: orm.Session, config: Mapping[str, Any], submission_id: int) -> str | None:
    """Return the patient's e-mail address if they gave one and consented to be contacted; else None."""
    return None  # replaced by screening.contacts.service.consented_email when the contact details are merged
