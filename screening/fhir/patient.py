"""The patient of a submission as a FHIR Patient: only the contact details they agreed to share."""

from __future__ import annotations

from typing import Any

from ..contacts.details import ContactDetails

Json = dict[str, Any]


def patient(details: ContactDetails | None, *, resource_id: str) -> Json | None:
    """Return the Patient of consented contact details; None when there are none or no consent to contact."""
    if details is None or not details.consent:
        return None
    resource: Json = {"resourceType": "Patient", "id": resource_id}
    if details.preferred_name:
        resource["name"] = [{"text": details.preferred_name}]
    telecom = [
        {"system": system, "value": value}
        for system, value in (("email", details.email), ("phone", details.phone))
        if value
    ]
    if telecom:
        resource["telecom"] = telecom
    if details.state:
        resource["address"] = [{"state": details.state, "country": "US"}]
    return resource
