"""Passwords: hashing, the strength policy, and one sign-in attempt with its lock-out.

Plain functions with explicit inputs (no request, no session cookie, no clock of their own), so the
web sign-in, the CLI and the tests all share them.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash
from zxcvbn import zxcvbn

from . import audit
from .errors import ScreeningError
from .models import User

#: werkzeug's scrypt (n=2**15, r=8, p=1): memory-hard and current.
HASH_METHOD = "scrypt"
MIN_LENGTH = 12
#: Longer input is refused before hashing, so nobody can make the server hash megabytes.
MAX_LENGTH = 256
#: zxcvbn's score, 0-4: 3 is "safely unguessable: moderate protection from offline slow-hash attacks".
MIN_SCORE = 3
#: zxcvbn refuses longer input; a password whose first 72 characters are strong is strong.
ESTIMATE_LENGTH = 72
#: Words an attacker would try first against this clinic's accounts.
SITE_WORDS = ("clinic", "screening", "ketamine", "intake", "physician", "admin", "staff")

#: Actor of the audit events of an attempt that is not (yet) signed in.
ANONYMOUS = "anonymous"


class WeakPassword(ScreeningError):
    """A new password breaks the policy; the message says why."""

    http_status = 422
    title = "Choose a stronger password"


def hash_password(password: str) -> str:
    """Return the salted hash to store for ``password``."""
    return generate_password_hash(password, method=HASH_METHOD)


def verify_password(stored_hash: str, password: str) -> bool:
    """Return True when ``password`` matches ``stored_hash``; over-long input never matches."""
    if len(password) > MAX_LENGTH:
        spend_hash_time()
        return False
    return check_password_hash(stored_hash, password)


@functools.cache
def _dummy_hash() -> str:
    """Return a hash of a random secret, made once per process."""
    return hash_password(secrets.token_urlsafe(16))


def spend_hash_time() -> None:
    """Check a password against a throw-away hash, so an unknown email costs as long as a known one."""
    check_password_hash(_dummy_hash(), secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    """Return the form in which emails are stored and compared: trimmed, lower-case."""
    return email.strip().lower()


def policy_problem(password: str, *, user_inputs: Iterable[str] = ()) -> str | None:
    """Return why ``password`` may not be used, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"The password is too short: use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password is too long: use at most {MAX_LENGTH} characters."
    if _contains_email(password, user_inputs):
        return "The password contains your email address. Choose one without it."
    sample = password[:ESTIMATE_LENGTH]
    known = [*SITE_WORDS, *_words(user_inputs)]
    estimate = zxcvbn(sample, user_inputs=known)
    if any(_is_whole_common_password(match, len(sample)) for match in estimate["sequence"]):
        return "This password is on the list of commonly used passwords. Choose one nobody else would."
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        advice = " ".join(filter(None, [feedback["warning"], *feedback["suggestions"]]))
        return f"This password is too easy to guess. {advice or 'Use a few uncommon words.'}".strip()
    if _rest_is_guessable(sample, known):
        return (
            "This password is words an attacker tries first (the clinic's, or your email's) with a few digits "
            "or symbols added. Add words nobody would connect with you or the clinic."
        )
    return None


def check_policy(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Raise WeakPassword when ``password`` may not be used."""
    problem = policy_problem(password, user_inputs=user_inputs)
    if problem is not None:
        raise WeakPassword(problem)


def _letters(text: str) -> str:
    """Return the letters and digits of ``text``, lower-case."""
    return "".join(char for char in text.lower() if char.isalnum())


def _contains_email(password: str, user_inputs: Iterable[str]) -> bool:
    """Return True when the password holds the local part of an email among ``user_inputs``."""
    plain = _letters(password)
    for text in user_inputs:
        local = _letters(text.partition("@")[0]) if "@" in text else ""
        if len(local) >= 4 and local in plain:
            return True
    return False


def _words(inputs: Iterable[str]) -> list[str]:
    """Split emails and names (``Harbor Ketamine Clinic``) into the words a guesser would try."""
    words: list[str] = []
    for text in inputs:
        lowered = text.lower()
        words.append(lowered)
        words.extend(part for part in re.split(r"[\W_]+", lowered) if len(part) > 2)
    return words


#: The characters people swap for letters; each letter of a known word also matches these.
_LOOKALIKES = {"a": "4@", "e": "3", "i": "1!|l", "l": "1|!i", "o": "0", "s": "5$", "t": "7+", "g": "9", "b": "8"}


def _word_pattern(word: str) -> str:
    """Return a pattern matching ``word`` with look-alike characters in place of its letters."""
    return "".join(f"[{re.escape(char + _LOOKALIKES.get(char, ''))}]" for char in word)


def _rest_is_guessable(password: str, known: Iterable[str]) -> bool:
    """Return True when a password using known words is weak once an attacker has tried those words."""
    words = sorted({word for word in known if len(word) >= 4}, key=len, reverse=True)
    pattern = re.compile("|".join(_word_pattern(word) for word in words), re.IGNORECASE)
    rest = pattern.sub("", password)
    if rest == password:
        return False
    return bool(zxcvbn(rest, user_inputs=list(known))["score"] < MIN_SCORE) if rest else True


def _is_whole_common_password(match: dict[str, object], length: int) -> bool:
    """Return True when one entry of zxcvbn's password list spans the whole password."""
    return (
        match.get("pattern") == "dictionary"
        and match.get("dictionary_name") == "passwords"
        and match.get("i") == 0
        and match.get("j") == length - 1
    )


@dataclass(frozen=True)
class LockPolicy:
    """How many failures in a row lock an account, and for how long."""

    max_failures: int
    lock_for: timedelta


def sign_in(
    session: orm.Session,
    email: str,
    password: str,
    *,
    now: datetime,
    policy: LockPolicy,
    remote_addr: str | None,
) -> User | None:
    """Check one sign-in attempt, count failures, lock after too many, and audit the outcome.

    Returns the user when the attempt succeeds. The attempt is counted as a failure before the password
    is checked, in one conditional UPDATE that also refuses a locked account, committed at once, so
    simultaneous attempts cannot check more passwords than the lock allows; a success takes its count
    back only while no lock has been set meanwhile. The caller commits the rest (the outcome and audit). Every path spends one password-hash check, so the time taken does not tell an
    unknown email from a wrong password or a locked account.
    """
    user = session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is None:
        spend_hash_time()
        _record_failure(session, None, "unknown_email", now, remote_addr)
        return None
    failures = _reserve_attempt(session, user, now=now, policy=policy)
    # Commit the count before the slow check: simultaneous attempts see it at once, and no row lock (nor
    # SQLite's one write lock) is held while the password is hashed.
    session.commit()
    if failures is None:
        spend_hash_time()
        _record_failure(session, user, "locked", now, remote_addr)
        return None
    matches = verify_password(user.password_hash, password)
    if user.disabled:
        _record_failure(session, user, "disabled", now, remote_addr)
        return None
    if not matches:
        _record_failure(session, user, "wrong_password", now, remote_addr)
        if failures >= policy.max_failures:
            _lock(session, user, now=now, policy=policy, failures=failures, remote_addr=remote_addr)
        return None
    if not _clear_failures(session, user, now=now):
        _record_failure(session, user, "locked", now, remote_addr)
        return None
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="auth.signed_in",
        subject_type="user",
        subject_id=user.id,
        at=now,
        remote_addr=remote_addr,
    )
    return user


def _not_locked(now: datetime) -> sa.ColumnElement[bool]:
    """Return the condition of an account that is not locked at ``now``."""
    return sa.or_(User.locked_until.is_(None), User.locked_until <= now)


def _reserve_attempt(session: orm.Session, user: User, *, now: datetime, policy: LockPolicy) -> int | None:
    """Count this attempt as a failure unless the account is locked or full; return the new count, or None."""
    failures = session.scalar(
        sa.update(User)
        .where(User.id == user.id, _not_locked(now), User.failed_logins < policy.max_failures)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    )
    session.expire(user, ["failed_logins", "locked_until"])
    return failures


def _clear_failures(session: orm.Session, user: User, *, now: datetime) -> bool:
    """Reset the failure count after a success; False when a lock was set after this attempt began."""
    cleared = session.execute(
        sa.update(User)
        .where(User.id == user.id, _not_locked(now))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(user, ["failed_logins", "locked_until", "last_login_at"])
    return bool(cleared.rowcount)  # type: ignore[attr-defined]


def _lock(
    session: orm.Session, user: User, *, now: datetime, policy: LockPolicy, failures: int, remote_addr: str | None
) -> None:
    """Lock the account for the policy's time after its last allowed failure, and audit it."""
    session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, locked_until=now + policy.lock_for)
        .execution_options(synchronize_session=False)
    )
    session.expire(user, ["failed_logins", "locked_until"])
    audit.record(
        session,
        actor=ANONYMOUS,
        action="auth.locked",
        subject_type="user",
        subject_id=user.id,
        at=now,
        remote_addr=remote_addr,
        details={"failures": failures, "minutes": int(policy.lock_for.total_seconds() // 60)},
    )


def _record_failure(
    session: orm.Session, user: User | None, reason: str, now: datetime, remote_addr: str | None
) -> None:
    """Audit a failed attempt: the user's id when the email exists, never what was typed."""
    audit.record(
        session,
        actor=ANONYMOUS,
        action="auth.sign_in_failed",
        subject_type="user",
        subject_id=None if user is None else user.id,
        at=now,
        remote_addr=remote_addr,
        details={"reason": reason},
    )
