"""Logging in to the agency portal: password hashes, lockout with backoff, signed session cookies, CSRF tokens.

Passwords are hashed with Argon2id (argon2-cffi). Failed logins are counted
per (username as typed, client address): ``ACCOUNT_BACKOFF`` locks that
pair after five failures in a row, for a minute, doubling with each further
failure up to an hour; a success ends it. One address that tries many
usernames (password spraying) meets the looser ``ADDRESS_BACKOFF`` over all
of them. An attacker elsewhere therefore never locks the real user out.
Unknown usernames are counted and locked exactly like real ones, and every
refusal says the same (``refusal``), so neither the answer nor its time
tells whether an account exists. A session is a random id kept (hashed) in
the database, sent to the browser signed (itsdangerous), so logout and a
deactivated account end it at once. Each session has its own CSRF token,
which every form of the portal carries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner

from kesah.ratelimit import minutes

SESSION_HOURS = 12
# A pair (username, address) or an address not seen failing for this long starts afresh.
FORGET_AFTER = dt.timedelta(hours=24)
# The key of an address's count over every username (a username's key is a SHA-256 hex digest).
EVERY_USERNAME = "*"

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


def normal_username(typed: str) -> str:
    return typed.strip().lower()


def username_key(typed: str) -> str:
    """What failures of a typed username are counted under: a digest, as people type passwords there too."""
    return hashlib.sha256(normal_username(typed).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Backoff:
    """After ``free`` failures in a row, a lock of ``first`` seconds, doubled by each further failure, at most ``cap``."""

    free: int
    first: int
    cap: int

    def lock_seconds(self, failures: int) -> int:
        if failures < self.free:
            return 0
        return min(self.cap, self.first * 2 ** min(failures - self.free, 32))


ACCOUNT_BACKOFF = Backoff(free=5, first=60, cap=3600)
# Looser: an office behind one address must not lock itself out with its staff's typos.
ADDRESS_BACKOFF = Backoff(free=30, first=60, cap=3600)


@dataclass(frozen=True)
class Failures:
    """Failed logins in a row of one key from one address, and until when it is locked."""

    count: int = 0
    locked_until: dt.datetime | None = None
    last_at: dt.datetime | None = None

    def wait(self, now: dt.datetime) -> float:
        """Seconds until the next login may be tried (0: now)."""
        return max(0.0, (self.locked_until - now).total_seconds()) if self.locked_until else 0.0

    def failed(self, now: dt.datetime, backoff: Backoff) -> "Failures":
        count = 1 if self.last_at is None or now - self.last_at > FORGET_AFTER else self.count + 1
        seconds = backoff.lock_seconds(count)
        return Failures(count, now + dt.timedelta(seconds=seconds) if seconds else None, now)


def refusal(wait: float) -> str:
    """The one answer to every failed login: unknown user, wrong password, inactive, locked."""
    first = "Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal."
    if wait <= 0:
        return f"{first} Periksa lalu coba lagi."
    return f"{first} Coba lagi dalam {minutes(wait)} menit."


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def session_expiry(now: dt.datetime) -> str:
    return iso(now + dt.timedelta(hours=SESSION_HOURS))


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    # compare_digest takes str only when it is ASCII: compare bytes, so any typed token is merely wrong.
    return bool(expected) and bool(given) and hmac.compare_digest(
        str(expected).encode("utf-8", "replace"), str(given).encode("utf-8", "replace"))


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
