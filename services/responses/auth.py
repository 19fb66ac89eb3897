"""Logging in to the agency portal: password hashes, lockout, signed session cookies, CSRF tokens.

Passwords are hashed with Argon2id (argon2-cffi). After ``MAX_FAILURES``
wrong passwords in a row an account is locked for ``LOCK_MINUTES``, even
for the right password. A session is a random id kept (hashed) in the
database, sent to the browser signed (itsdangerous), so logout and a
deactivated account end it at once. Each session has its own CSRF token,
which every form of the portal carries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner

MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
MIN_PASSWORD = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the username is unknown, so both cases take as long.
UNKNOWN_USER_HASH = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Kata sandi minimal {MIN_PASSWORD} karakter."
    return None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def is_locked(locked_until: str | None, now: dt.datetime) -> bool:
    return locked_until is not None and parse(locked_until) > now


def after_failure(failed_logins: int, now: dt.datetime) -> tuple[int, str | None]:
    """(failures so far, locked until): the count starts again once the lock is set."""
    failed = failed_logins + 1
    if failed >= MAX_FAILURES:
        return 0, _iso(now + dt.timedelta(minutes=LOCK_MINUTES))
    return failed, None


def session_expiry(now: dt.datetime) -> str:
    return _iso(now + dt.timedelta(hours=SESSION_HOURS))


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class CookieSigner:
    """Signs what the portal puts in cookies; a cookie altered or older than a session is refused."""

    def __init__(self, key: bytes) -> None:
        self._signer = TimestampSigner(key, salt="kesah-agency-portal")

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode("ascii")

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie, max_age=SESSION_HOURS * 3600).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
