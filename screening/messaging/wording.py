"""The words of each patient message, rendered from ``templates/messages/<kind>.txt``: the one place to edit them.

A template's first line is ``Subject: ...``; the rest is the plain-text body. Templates read ``clinic`` (the
clinic's name, phone, e-mail, website, hours, address and booking instructions), ``reference`` (the code the
patient can quote) and ``note`` (the physician's note when it was marked for the patient, else None). Nothing
else is given to them, so no edit can put answers, scores or a status link into a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

from ..clinic import Clinic
from ..config import bundled

SUBJECT = "Subject:"


class WordingError(ValueError):
    """A message template cannot be used: it has no subject line."""


@dataclass(frozen=True)
class Wording:
    """The subject line and the plain-text body of one message."""

    subject: str
    body: str


def environment() -> jinja2.Environment:
    """Return the environment of the message templates: plain text, a missing value an error, blocks trimmed."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(bundled("templates") / "messages"),
        autoescape=False,  # plain text, never shown as HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(env: jinja2.Environment, kind: str, *, clinic: Clinic, reference: str, note: str | None) -> Wording:
    """Return the message of ``kind`` for the submission ``reference``."""
    text = env.get_template(f"{kind}.txt").render(clinic=clinic, reference=reference, note=note)
    first, _, rest = text.partition("\n")
    if not first.startswith(SUBJECT):
        raise WordingError(f"messages/{kind}.txt must start with a {SUBJECT!r} line")
    return Wording(subject=first.removeprefix(SUBJECT).strip(), body=rest.strip("\n") + "\n")
