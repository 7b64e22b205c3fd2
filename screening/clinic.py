"""The clinic the app serves: its name and how patients reach it, read once from the ``CLINIC_*`` settings.

Every page names the clinic in its header and gives its contact details in the footer, and the pages that tell
the patient to contact the clinic say how. The facts live here, in one value built and checked when the app
starts (``screening.config`` turns a bad value into a ``ConfigError``); templates read it as ``clinic``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import Flask

#: A number written without its country code (``(212) 555-0123``) is read as one of this region's; the crisis
#: lines the pages give (988, 911) are this region's too. Numbers of this region are shown in national format.
PHONE_REGION = "US"

#: The settings, by config key; each is ``SCREENING_<key>`` in the environment.
NAME = "CLINIC_NAME"
PHONE = "CLINIC_PHONE"
EMAIL = "CLINIC_EMAIL"
ADDRESS = "CLINIC_ADDRESS"
HOURS = "CLINIC_HOURS"
WEBSITE = "CLINIC_WEBSITE"
#: How a patient invited to a consultation books it: the invitation e-mail quotes it.
BOOKING = "CLINIC_BOOKING"
#: The clinic's own support line for the people who work in the app: the footer of their pages gives it.
STAFF_SUPPORT_PHONE = "CLINIC_STAFF_SUPPORT_PHONE"
SETTINGS = (NAME, PHONE, EMAIL, ADDRESS, HOURS, WEBSITE, BOOKING, STAFF_SUPPORT_PHONE)

#: Production refuses to start without these: a patient's pages must say who the clinic is and how to call it.
REQUIRED_IN_PRODUCTION = (NAME, PHONE)

#: Where app.extensions keeps the app's clinic.
EXTENSION = "screening.clinic"


class ClinicSettingError(ValueError):
    """A ``CLINIC_*`` setting holds a value the pages cannot show; the message is one line naming it."""


@dataclass(frozen=True)
class Phone:
    """A phone number, as a ``tel:`` link dials it and as a patient reads it."""

    #: E.164, for ``tel:`` links: ``+12125550123``.
    e164: str
    #: National format for a number of PHONE_REGION (``(212) 555-0123``), international for any other.
    display: str


@dataclass(frozen=True)
class Clinic:
    """The clinic's name and contact details; anything not set is None or empty, and the pages leave it out."""

    name: str | None = None
    phone: Phone | None = None
    email: str | None = None
    #: The postal address, one line per item.
    address: tuple[str, ...] = ()
    #: Opening hours, one line per item (``Monday to Friday, 9 am to 5 pm``).
    hours: tuple[str, ...] = ()
    #: An http:// or https:// address.
    website: str | None = None
    #: How to book a consultation, one line per item (``Book online at https://clinic.example/book``).
    booking: tuple[str, ...] = ()
    #: The support line of the clinic's staff, for the footer of the signed-in pages (never a patient's page).
    staff_support_phone: Phone | None = None

    @property
    def website_label(self) -> str | None:
        """Return the website as a patient reads it: host and path, without the scheme or a trailing slash."""
        if self.website is None:
            return None
        parts = urlsplit(self.website)
        return (parts.netloc + parts.path).rstrip("/")

    @property
    def names(self) -> tuple[str, ...]:
        """Return what the clinic is called: the first words a guesser tries against its accounts' passwords."""
        return (self.name,) if self.name else ()

    @property
    def reachable(self) -> bool:
        """Return True when the pages can say how to reach the clinic (by phone or e-mail)."""
        return self.phone is not None or self.email is not None

    @property
    def shown(self) -> bool:
        """Return True when the footer has anything to say about the clinic."""
        return bool(self.name or self.reachable or self.address or self.hours or self.website)


def clinic_from_config(config: Mapping[str, Any]) -> Clinic:
    """Return the clinic the ``CLINIC_*`` settings describe; raise ClinicSettingError naming a bad one."""
    phone = _text(config, PHONE)
    email = _text(config, EMAIL)
    website = _text(config, WEBSITE)
    support = _text(config, STAFF_SUPPORT_PHONE)
    return Clinic(
        name=_text(config, NAME),
        phone=None if phone is None else parse_phone(phone),
        email=None if email is None else parse_email(email),
        address=_lines(config, ADDRESS),
        hours=_lines(config, HOURS),
        website=None if website is None else parse_website(website),
        booking=_lines(config, BOOKING),
        staff_support_phone=None if support is None else parse_phone(support, STAFF_SUPPORT_PHONE),
    )


def missing_settings(clinic: Clinic) -> list[str]:
    """Return the settings of REQUIRED_IN_PRODUCTION that ``clinic`` lacks, as environment variable names."""
    values = {NAME: clinic.name, PHONE: clinic.phone}
    return [f"SCREENING_{key}" for key in REQUIRED_IN_PRODUCTION if values[key] is None]


def parse_phone(text: str, key: str = PHONE) -> Phone:
    """Return the phone number ``text`` of setting ``key`` (with its country code, or one of PHONE_REGION)."""
    problem = f"SCREENING_{key} {quoted(text)} is not a valid phone number: write it as +1 212 555 0123"
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ClinicSettingError(problem) from None
    if not phonenumbers.is_valid_number(number):
        raise ClinicSettingError(problem)
    national = phonenumbers.region_code_for_number(number) == PHONE_REGION
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        display=phonenumbers.format_number(number, style),
    )


def parse_email(text: str) -> str:
    """Return the e-mail address ``text`` normalized (its syntax checked, not its mail server)."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ClinicSettingError(f"SCREENING_{EMAIL} {quoted(text)} is not a valid e-mail address: {error}") from None


def parse_website(text: str) -> str:
    """Return ``text`` when it is an absolute http:// or https:// address."""
    parts = urlsplit(text)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or any(c.isspace() for c in text):
        raise ClinicSettingError(
            f"SCREENING_{WEBSITE} {quoted(text)} is not a website address: write it as https://clinic.example"
        )
    return text


#: A bad value is quoted in its message up to this many characters, so the message stays one readable line.
QUOTED_LENGTH = 40


def quoted(text: str) -> str:
    """Return ``text`` quoted for a message about it, cut after QUOTED_LENGTH characters."""
    return repr(text if len(text) <= QUOTED_LENGTH else text[:QUOTED_LENGTH] + "…")


def _text(config: Mapping[str, Any], key: str) -> str | None:
    """Return setting ``key`` as one line of text, or None when it is unset or blank."""
    value = config.get(key)
    if value is None:
        return None
    # The environment's values are read as JSON first: a phone number of digits only arrives as a number.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ClinicSettingError(f"SCREENING_{key} must be text, not {value!r}")
    text = str(value).strip()
    if any(not c.isprintable() for c in text):
        raise ClinicSettingError(f"SCREENING_{key} must be one line of text")
    return text or None


def _lines(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Return setting ``key`` as lines: text with one line per item, or a list of lines; blank lines dropped."""
    value = config.get(key)
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        items = [_text({key: item}, key) for item in value]
    elif isinstance(value, str):
        items = [_text({key: line}, key) for line in value.splitlines()]
    else:
        raise ClinicSettingError(f"SCREENING_{key} must be text or a list of lines, not {value!r}")
    return tuple(item for item in items if item)


def clinic_of(app: Flask) -> Clinic:
    """Return the clinic ``app`` was configured with."""
    clinic: Clinic = app.extensions[EXTENSION]
    return clinic


def init_app(app: Flask) -> None:
    """Let every template read the app's clinic as ``clinic``."""
    app.jinja_env.globals["clinic"] = clinic_of(app)
