"""The download of one submission's FHIR Bundle, shared by the physicians' and the admins' submission pages.

Each blueprint's own guard decides who gets here; this answers for the signed-in user and audits the download.
"""

from __future__ import annotations

import json

from flask import current_app
from flask import request
from werkzeug.wrappers import Response

from ..auth import clock
from ..auth.accounts import current_user
from ..db import get_session
from . import service


def bundle_download(submission_id: int) -> Response:
    """Return the Bundle of one submission as a JSON attachment, after committing its audit event."""
    db = get_session()
    bundle = service.submission_bundle(
        db,
        current_app.config,
        submission_id,
        actor=current_user.actor,
        now=clock.now(),
        remote_addr=request.remote_addr,
    )
    db.commit()
    response = Response(json.dumps(bundle, ensure_ascii=False), mimetype=service.BUNDLE_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="submission-{submission_id}.fhir.json"'
    return response
