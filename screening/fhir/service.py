"""Submissions as FHIR: one submission's Bundle for a download, and a date range as Bulk Data NDJSON files.

Plain functions over an explicit session; every download and export adds its audit event (ids, range and
counts only) to the caller's transaction, and the caller commits. The export reads the submissions a chunk
at a time, never all at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import IO
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from .. import audit
from ..answers import parse_answers
from ..contacts.service import consented_details
from ..errors import AnswersError
from ..errors import NotFound
from ..instruments.scoring import score_answers
from ..models import Submission
from ..tuning.dry_run_store import day_range
from ..tuning.dry_run_store import in_range
from . import codes
from .bundle import collection
from .bundle import validated
from .observations import observations
from .patient import patient
from .questionnaire import questionnaire
from .response import questionnaire_response

Json = dict[str, Any]
#: Submissions read from the database per round trip of the export.
CHUNK = 500
RESOURCE_TYPES = ("Questionnaire", "QuestionnaireResponse", "Observation", "Patient")
BUNDLE_MIMETYPE = "application/fhir+json"


def base_of(config: Mapping[str, Any]) -> str:
    """Return the canonical FHIR root of the clinic, under its PUBLIC_BASE_URL."""
    return codes.fhir_base(str(config["PUBLIC_BASE_URL"]))


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class NotExportable(AnswersError):
    """A stored submission's answers do not fit the canonical document, so they cannot be exported as FHIR."""

    http_status = 409
    title = "This submission cannot be exported"


def _document(submission: Submission) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the submission's answers document, checked, and its scores (those stored, else computed)."""
    try:
        document = parse_answers(submission.answers).to_document()
    except AnswersError as error:
        raise NotExportable(error.field, "the stored answers do not fit the answers document") from None
    return document, {**score_answers(document).as_dict(), **(submission.scores or {})}


def submission_resources(base: str, submission: Submission, patient_resource: Json | None = None) -> list[Json]:
    """Return the resources of one submission, unvalidated: its response, its score Observations, its Patient."""
    document, stored_scores = _document(submission)
    response_id = f"submission-{submission.id}"
    authored = _instant(submission.submitted_at)
    response = questionnaire_response(
        base, document, resource_id=response_id, authored=authored, form_version=submission.form_version
    )
    subject = f"Patient/{patient_resource['id']}" if patient_resource else None
    if subject:
        response["subject"] = {"reference": subject}
    scores = observations(base, stored_scores, response_id=response_id, effective=authored, subject=subject)
    return [response, *scores, *([patient_resource] if patient_resource else [])]


def submission_bundle(
    session: orm.Session,
    config: Mapping[str, Any],
    submission_id: int,
    *,
    actor: str,
    now: datetime,
    remote_addr: str | None = None,
) -> Json:
    """Return the validated Bundle of one submission (no contact details) and audit the download."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("There is no submission with this number.")
    base = base_of(config)
    resources = [questionnaire(base), *submission_resources(base, submission)]
    bundle = collection(resources, bundle_id=f"submission-{submission.id}-bundle", timestamp=_instant(now))
    audit.record(
        session,
        actor=actor,
        action="fhir.bundle_downloaded",
        subject_type="submission",
        subject_id=submission.id,
        at=now,
        remote_addr=remote_addr,
        details={"form_version": submission.form_version, "resources": len(resources)},
    )
    return bundle


@dataclass(frozen=True)
class ExportCounts:
    """How many resources of each type an export wrote."""

    by_type: Mapping[str, int]
    #: Submissions left out because their stored answers do not fit the answers document.
    skipped: int = 0

    @property
    def submissions(self) -> int:
        """Return how many submissions were exported (one response each)."""
        return self.by_type.get("QuestionnaireResponse", 0)


def _selection(first: date, last: date) -> sa.Select[tuple[Submission]]:
    start, end = day_range(first, last)
    return sa.select(Submission).where(*in_range(start, end)).order_by(Submission.id)


def count_in_range(session: orm.Session, first: date, last: date) -> int:
    """Return how many submissions were sent on the days ``first`` to ``last`` (UTC, inclusive)."""
    return session.scalar(sa.select(sa.func.count()).select_from(_selection(first, last).subquery())) or 0


def _streamed(session: orm.Session, first: date, last: date) -> Iterator[Submission]:
    """Yield the submissions of the range a chunk at a time, forgetting each chunk once written."""
    after = 0
    while True:
        chunk = list(session.scalars(_selection(first, last).where(Submission.id > after).limit(CHUNK)))
        yield from chunk
        if len(chunk) < CHUNK:
            return
        after = chunk[-1].id
        session.expunge_all()


def _write(files: Mapping[str, IO[str]], counts: dict[str, int], resource: Json) -> None:
    kind = resource["resourceType"]
    files[kind].write(json.dumps(validated(resource), ensure_ascii=False, separators=(",", ":")) + "\n")
    counts[kind] += 1


def export_ndjson(
    session: orm.Session,
    config: Mapping[str, Any],
    directory: Path,
    first: date,
    last: date,
    *,
    with_contact: bool,
    actor: str,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> ExportCounts:
    """Write one NDJSON file per resource type for the submissions of the range; audit the export."""
    base = base_of(config)
    kinds = RESOURCE_TYPES if with_contact else RESOURCE_TYPES[:-1]
    counts, skipped = dict.fromkeys(kinds, 0), 0
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        files = {kind: stack.enter_context(open(directory / f"{kind}.ndjson", "w", encoding="utf-8")) for kind in kinds}
        _write(files, counts, questionnaire(base))
        for submission in _streamed(session, first, last):
            details = consented_details(session, config, submission.id) if with_contact else None
            found = patient(details, resource_id=f"submission-{submission.id}-patient")
            try:
                resources = submission_resources(base, submission, found)
            except NotExportable:
                skipped += 1
            else:
                for resource in resources:
                    _write(files, counts, resource)
            progress(1)
    audit.record(
        session,
        actor=actor,
        action="fhir.exported",
        subject_type="submission",
        subject_id=None,
        at=now,
        details={
            "from": first.isoformat(),
            "to": last.isoformat(),
            "with_contact": with_contact,
            "skipped": skipped,
            **{f"{kind}_count": count for kind, count in counts.items()},
        },
    )
    return ExportCounts(counts, skipped)
