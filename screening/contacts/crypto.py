"""The keys contact details are encrypted with: Fernet, several keys at once so that a key can be rotated.

``SCREENING_CONTACT_KEYS`` lists Fernet keys, comma-separated, newest first: the newest encrypts, any decrypts,
and ``service.rotate_keys`` re-encrypts everything with the newest so that older keys can then be removed.
In development (and tests) without the setting, a key is generated once into ``instance/contact_key``
(readable by its owner only); production refuses to start without one (``screening.config``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet

from ..errors import ScreeningError
from ..instance_files import kept_secret

#: The setting, by config key (``SCREENING_CONTACT_KEYS`` in the environment).
KEYS = "CONTACT_KEYS"
#: The key generated for development is kept in this file of the instance folder.
KEY_FILE = "contact_key"
MAKE_KEY = "python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
#: How many hex digits of a key's sha256 name it in the database (enough to tell keys apart, useless to attack).
KEY_ID_LENGTH = 16


class ContactKeyError(ScreeningError):
    """A key setting is unusable, or stored details cannot be decrypted with any key given."""

    http_status = 500
    title = "Contact details cannot be read"


def parse_keys(value: Any) -> tuple[str, ...]:
    """Return the keys of a setting (comma-separated text, or a list), newest first; refuse a bad one."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    keys = tuple(str(item).strip() for item in items if str(item).strip())
    if items and not keys:
        raise ContactKeyError(f"SCREENING_{KEYS} holds no key: set it to the output of {MAKE_KEY}")
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ContactKeyError(
                f"SCREENING_{KEYS}: key {number} is not a Fernet key (32 url-safe base64-encoded bytes): "
                f"make one with {MAKE_KEY}"
            ) from None
    return keys


def ensure_keys(config: MutableMapping[str, Any], instance: Path, *, production: bool) -> None:
    """Check the keys and keep them as a tuple; without any, generate one (development) or refuse (production)."""
    keys = parse_keys(config.get(KEYS))
    if not keys:
        if production:
            raise ContactKeyError(
                f"SCREENING_{KEYS} is not set. Contact details are encrypted with it: set it to the output of "
                f"{MAKE_KEY} (the same on every host) before running in production."
            )
        keys = (_development_key(instance),)
    config[KEYS] = keys


def _development_key(instance: Path) -> str:
    """Return the development key stored in ``instance``, creating it (mode 0600) on first use."""
    return kept_secret(instance / KEY_FILE, lambda: Fernet.generate_key().decode())


def _keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    keys = parse_keys(config.get(KEYS))
    if not keys:
        raise ContactKeyError(f"SCREENING_{KEYS} is not set")
    return keys


def keyring(config: Mapping[str, Any]) -> MultiFernet:
    """Return the keys of ``config`` as one MultiFernet: the first encrypts, any decrypts."""
    return MultiFernet([Fernet(key.encode()) for key in _keys(config)])


def key_id(key: str) -> str:
    """Return the short name of a key stored beside what it encrypted."""
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_LENGTH]


def current_key_id(config: Mapping[str, Any]) -> str:
    """Return the name of the key new details are encrypted with."""
    return key_id(_keys(config)[0])


def seal(config: Mapping[str, Any], text: str) -> str:
    """Return ``text`` encrypted with the newest key."""
    return keyring(config).encrypt(text.encode()).decode("ascii")


def unseal(config: Mapping[str, Any], token: str) -> str:
    """Return the text ``token`` encrypts; raise ContactKeyError when no key given decrypts it."""
    try:
        return keyring(config).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise ContactKeyError(
            f"Stored contact details cannot be decrypted with any key in SCREENING_{KEYS}: "
            "put back the key they were encrypted with (after the newest)."
        ) from None


def reseal(config: Mapping[str, Any], token: str) -> str:
    """Return ``token`` encrypted again with the newest key."""
    try:
        return keyring(config).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise ContactKeyError(
            f"Stored contact details cannot be decrypted with any key in SCREENING_{KEYS}: "
            "put back the key they were encrypted with (after the newest), then rotate again."
        ) from None
