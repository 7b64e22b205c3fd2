"""What a patient tells the clinic about reaching them, checked with email-validator and phonenumbers."""

from __future__ import annotations

import json
from dataclasses import asdict
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError
from email_validator import validate_email

from ..errors import Invalid

#: A number written without a country code is read as one of this region's, and must be valid.
PHONE_REGION = "US"
#: How the patient prefers to be reached, and when: the codes stored, with the words every page shows for them.
METHOD_LABELS = {"email": "By e-mail", "phone": "By phone", "either": "Either"}
TIME_LABELS = {"morning": "Morning", "afternoon": "Afternoon", "evening": "Evening", "any": "Any time"}
METHODS = tuple(METHOD_LABELS)
TIMES = tuple(TIME_LABELS)
#: The fifty states, the District of Columbia and the inhabited territories, by USPS code.
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI"
)
STATES = tuple(_STATE_CODES.split())
NAME_MAX_LENGTH = 80


class ContactInvalid(Invalid):
    """A contact detail is not acceptable; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ContactDetails:
    """How the clinic may reach one patient, as they gave it, and the consent wording they agreed to."""

    preferred_name: str | None
    email: str | None
    #: E.164, e.g. +12125550187.
    phone: str | None
    #: One of METHODS.
    preferred_method: str
    #: One of TIMES.
    preferred_time: str
    #: A code of STATES, or None when not given.
    state: str | None
    consent: bool
    consent_version: str

    def to_json(self) -> str:
        """Return the details as compact JSON."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContactDetails:
        """Return the details stored as ``text`` by ``to_json``."""
        return cls(**json.loads(text))


def normalized_email(text: str) -> str:
    """Return the e-mail address normalized (its syntax checked, not its mail server); refuse a bad one."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ContactInvalid("email", f"This e-mail address is not valid: {error}") from None


def normalized_phone(text: str) -> str:
    """Return the phone number in E.164; refuse one that is not a valid number."""
    problem = "This phone number is not valid: give a 10-digit US number such as (212) 555-0187."
    try:
        number = phonenumbers.parse(text.strip(), PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ContactInvalid("phone", problem) from None
    if not phonenumbers.is_valid_number(number):
        raise ContactInvalid("phone", problem)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalized_state(text: str | None) -> str | None:
    """Return the state's code in capitals, None when none is given; refuse an unknown one."""
    code = (text or "").strip().upper()
    if not code:
        return None
    if code not in STATES:
        raise ContactInvalid("state", "Choose a US state from the list.")
    return code


def parse_contact(
    *,
    preferred_name: str | None,
    email: str | None,
    phone: str | None,
    preferred_method: str,
    preferred_time: str,
    state: str | None,
    consent: bool,
    consent_version: str,
) -> ContactDetails:
    """Return checked, normalized contact details; raise ContactInvalid naming the first bad field."""
    name = (preferred_name or "").strip() or None
    if name is not None and (len(name) > NAME_MAX_LENGTH or not name.isprintable()):
        raise ContactInvalid("preferred_name", f"Please keep the name to one line of {NAME_MAX_LENGTH} characters.")
    address = normalized_email(email) if email and email.strip() else None
    number = normalized_phone(phone) if phone and phone.strip() else None
    _check_reachable(address, number, preferred_method)
    if preferred_time not in TIMES:
        raise ContactInvalid("preferred_time", "Choose when the clinic may call or write.")
    if not consent:
        raise ContactInvalid("consent", "Tick the box to agree to be contacted, or choose not to be contacted.")
    return ContactDetails(
        preferred_name=name,
        email=address,
        phone=number,
        preferred_method=preferred_method,
        preferred_time=preferred_time,
        state=normalized_state(state),
        consent=True,
        consent_version=consent_version,
    )


def _check_reachable(email: str | None, phone: str | None, method: str) -> None:
    """Refuse details the clinic could not reach the patient with in the way they prefer."""
    if method not in METHODS:
        raise ContactInvalid("preferred_method", "Choose how the clinic should contact you.")
    if method == "phone" and phone is None:
        raise ContactInvalid("phone", "Give a phone number, as you prefer a call.")
    if method == "email" and email is None:
        raise ContactInvalid("email", "Give an e-mail address, as you prefer e-mail.")
    if email is None and phone is None:
        raise ContactInvalid("email", "Give an e-mail address or a phone number.")


def served_states(value: object) -> frozenset[str]:
    """Return the states of the SERVICE_STATES setting ("NY,NJ" or a list); empty means every state is served."""
    items = value.split(",") if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
    codes = frozenset(str(item).strip().upper() for item in items if str(item).strip())
    unknown = sorted(codes - set(STATES))
    if unknown:
        raise Invalid(f"SCREENING_SERVICE_STATES: {', '.join(unknown)} is not a US state code")
    return codes


def in_service_area(state: str | None, served: frozenset[str]) -> bool:
    """Return False only for a given state the clinic does not serve; no state given counts as served."""
    return not served or state is None or state in served


def display_phone(e164: str) -> str:
    """Return a stored E.164 number as a person dials it: "(212) 555-0187" for a US number."""
    number = phonenumbers.parse(e164, PHONE_REGION)
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if number.country_code == 1 else style.INTERNATIONAL)
