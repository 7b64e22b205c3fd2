"""Validate each resource with the R4B models of ``fhir.resources`` and collect one submission's in a Bundle.

Validation is the export's last step: a resource the models refuse is a bug here, never sent to a clinic.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

Json = dict[str, Any]


class InvalidResource(ValueError):
    """A resource built for an export breaks the FHIR R4B model; the message names the type and field only."""


def validated(resource: Mapping[str, Any]) -> Json:
    """Return ``resource`` (JSON-ready) once the R4B model accepts it, raising InvalidResource if it is not valid.

    What is returned is the resource as built, not the model's dump of it: writing the model out again cost
    more than validating it and gave the same JSON (the tests compare the two).
    """
    model = get_fhir_model_class(str(resource["resourceType"]))
    try:
        model.model_validate(dict(resource))
    except ValueError as error:
        fields = sorted({".".join(map(str, e["loc"])) for e in getattr(error, "errors", lambda: [])()})
        # Only the field paths: the values may be a patient's answers.
        raise InvalidResource(f"{resource['resourceType']} is not valid FHIR R4B at {', '.join(fields)}") from None
    return dict(resource)


def collection(resources: Iterable[Mapping[str, Any]], *, bundle_id: str, timestamp: str) -> Json:
    """Return a validated Bundle of type collection holding each resource, validated too."""
    entries = [{"resource": validated(resource)} for resource in resources]
    return validated(
        {"resourceType": "Bundle", "id": bundle_id, "type": "collection", "timestamp": timestamp, "entry": entries}
    )
