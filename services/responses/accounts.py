"""Agency portal accounts: staff, agency admins and operators; logins and sessions.

Accounts are operational data, not public facts: they live in responses'
tables, not in events (an event is journaled by publicview and archived for
good; a password hash has no place there). Who may manage whose account is
``domain.check_manage_accounts``, applied here.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kesah import database
from kesah.contracts import utc_now

from . import auth, domain, passwords
from .tables import accounts, agencies, login_failures, sessions

log = logging.getLogger(__name__)

USERNAME_RE = r"^[a-z0-9][a-z0-9._-]{2,59}$"


class AccountError(ValueError):
    """The account change cannot be made; the message (Indonesian) says why, ``english`` too (for the CLI)."""

    def __init__(self, message: str, english: str | None = None) -> None:
        super().__init__(message)
        self.english = english or message


class LoginFailed(Exception):
    """Any failed login (unknown user, wrong password, inactive, locked): one message, for the person."""


@dataclass(frozen=True)
class Session:
    actor: domain.Actor
    csrf_token: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- managing ----------------------------------------------------------------

    def create(self, actor: domain.Actor | None, username: str, name: str, role: str, agency_id: str | None,
               password: str) -> None:
        """``actor`` None: the operator's own command line (``kesah account add``)."""
        username = auth.normal_username(username)
        if not re.match(USERNAME_RE, username):
            raise AccountError("Nama pengguna 3–60 karakter: huruf kecil, angka, titik, garis bawah atau tanda hubung.",
                               "a username has 3-60 characters: lower-case letters, digits, '.', '_' or '-'")
        if role not in domain.ROLES:
            raise AccountError("Peran harus staf, admin instansi atau operator.", "the role must be staff, admin or operator")
        if role == "operator":
            agency_id = None
        elif not agency_id:
            raise AccountError("Akun staf dan admin harus milik satu instansi.",
                               "a staff or admin account belongs to an agency (--agency)")
        if actor is not None:
            if role == "operator":
                domain.check_operator(actor)
            domain.check_manage_accounts(actor, agency_id)
        if not name.strip():
            raise AccountError("Nama wajib diisi.", "the name is empty")
        with database.writing(self.engine) as conn:
            agency = None
            if agency_id:
                agency = conn.execute(sa.select(agencies).where(agencies.c.agency_id == agency_id)).first()
                if agency is None:
                    raise AccountError("Instansi tidak dikenal.", f"no agency with id {agency_id!r}")
            _check_password(password, username, name, agency)
            if conn.execute(sa.select(accounts.c.username).where(accounts.c.username == username)).first():
                raise AccountError("Nama pengguna sudah dipakai.", f"the username {username!r} is taken")
            conn.execute(accounts.insert().values(
                username=username, name=name.strip(), role=role, agency_id=agency_id,
                password_hash=auth.hash_password(password), active=True, created_at=utc_now(),
            ))

    def _target(self, conn: Any, actor: domain.Actor, username: str) -> Any:
        row = conn.execute(sa.select(accounts).where(accounts.c.username == username)).first()
        if row is None:
            raise LookupError(username)
        if row.role == "operator":
            domain.check_operator(actor)
        domain.check_manage_accounts(actor, row.agency_id)
        return row

    def set_active(self, actor: domain.Actor, username: str, active: bool) -> None:
        if username == actor.username and not active:
            raise AccountError("Anda tidak dapat menonaktifkan akun Anda sendiri.")
        with database.writing(self.engine) as conn:
            self._target(conn, actor, username)
            conn.execute(accounts.update().where(accounts.c.username == username).values(active=active))
            _unlock(conn, username)
            if not active:
                conn.execute(sessions.delete().where(sessions.c.username == username))

    def set_password(self, actor: domain.Actor, username: str, password: str) -> None:
        """A new password (an admin's or operator's reset): the account's locks and sessions end."""
        with database.writing(self.engine) as conn:
            row = self._target(conn, actor, username)
            agency = conn.execute(sa.select(agencies).where(agencies.c.agency_id == row.agency_id)).first()
            _check_password(password, row.username, row.name, agency)
            conn.execute(accounts.update().where(accounts.c.username == username)
                         .values(password_hash=auth.hash_password(password)))
            _unlock(conn, username)
            conn.execute(sessions.delete().where(sessions.c.username == username))

    def listing(self, actor: domain.Actor, agency_id: str | None) -> list[dict[str, Any]]:
        """The accounts of one agency (None: operators' own accounts, for operators only)."""
        if agency_id is None:
            domain.check_operator(actor)
        else:
            domain.check_manage_accounts(actor, agency_id)
        now = _now()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).where(
                accounts.c.agency_id == agency_id if agency_id else accounts.c.role == "operator"
            ).order_by(accounts.c.username)).all()
            keys = {auth.username_key(r.username): r.username for r in rows}
            locked = {keys[key] for key in conn.execute(
                sa.select(login_failures.c.username_key).where(
                    login_failures.c.username_key.in_(list(keys)), login_failures.c.locked_until > auth.iso(now))
            ).scalars()} if keys else set()
        return [{"username": r.username, "name": r.name, "role": r.role, "active": r.active,
                 "locked": r.username in locked} for r in rows]

    def unlock(self, username: str | None = None, client: str | None = None) -> int:
        """Forget the failed logins of a username (from every address) or of an address (``kesah account unlock``)."""
        with database.writing(self.engine) as conn:
            if username is not None:
                return _unlock(conn, username)
            return conn.execute(login_failures.delete().where(login_failures.c.client == (client or "")[:64])).rowcount

    # --- logging in ----------------------------------------------------------------

    def login(self, username: str, password: str, client: str = "") -> tuple[str, str]:
        """(session id, CSRF token) for the right password; LoginFailed (always ``auth.refusal``) otherwise.

        ``client``: the client's address. While the (username, client) pair
        or the client as a whole is locked, refused without looking.
        Otherwise the attempt is counted as a failure first (so parallel
        guesses cannot slip past the lock), then the password is verified
        (against a dummy hash for an unknown username: the same time), and
        a success takes its count back.
        """
        typed = auth.normal_username(username)
        key, client = auth.username_key(typed), client[:64]
        locked, wait = self._attempt(key, client, typed)
        if locked:
            raise LoginFailed(auth.refusal(wait))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.username == typed)).first()
        # Outside any transaction: the hash takes a while and must not hold SQLite's write lock.
        right = auth.verify_password(row.password_hash if row else auth.UNKNOWN_USER_HASH, password)
        if not (right and row is not None and row.active):
            raise LoginFailed(auth.refusal(wait))
        now = _now()
        session_id, csrf = auth.new_session_id(), auth.new_csrf_token()
        with database.writing(self.engine) as conn:
            database.write_lock(conn, f"login:{client}")
            pair = login_failures.c.username_key == key, login_failures.c.client == client
            before = conn.execute(sa.select(login_failures.c.failures).where(*pair)).scalar() or 1
            conn.execute(login_failures.delete().where(*pair))
            if before > 1:  # this attempt was counted too; more means it followed failures: worth a look
                log.warning("portal login of account %s from %s after %d failed attempts in a row",
                            typed, client or "an unknown address", before - 1)
            spread = conn.execute(sa.select(login_failures).where(
                login_failures.c.username_key == auth.EVERY_USERNAME, login_failures.c.client == client)).first()
            if spread is not None:
                count = max(0, spread.failures - 1)
                conn.execute(login_failures.update().where(
                    login_failures.c.username_key == auth.EVERY_USERNAME, login_failures.c.client == client).values(
                    failures=count,
                    locked_until=spread.locked_until if auth.ADDRESS_BACKOFF.lock_seconds(count) else None))
            conn.execute(sessions.insert().values(
                session_hash=auth.session_hash(session_id), username=typed, csrf_token=csrf,
                expires_at=auth.session_expiry(now)))
        return session_id, csrf

    def _attempt(self, key: str, client: str, typed: str) -> tuple[bool, float]:
        """(locked already, seconds to wait): counts the attempt as a failure unless locked already."""
        now = _now()
        waits = []
        with database.writing(self.engine) as conn:
            database.write_lock(conn, f"login:{client}")
            rows = {r.username_key: r for r in conn.execute(sa.select(login_failures).where(
                login_failures.c.client == client, login_failures.c.username_key.in_([key, auth.EVERY_USERNAME])))}
            wait = max((_failures(r).wait(now) for r in rows.values()), default=0.0)
            if wait:
                return True, wait
            for row_key, backoff in ((key, auth.ACCOUNT_BACKOFF), (auth.EVERY_USERNAME, auth.ADDRESS_BACKOFF)):
                row = rows.get(row_key)
                after = (_failures(row) if row else auth.Failures()).failed(now, backoff)
                values = {"failures": after.count, "last_failure_at": auth.iso(now),
                          "locked_until": auth.iso(after.locked_until) if after.locked_until else None}
                if row is None:
                    conn.execute(login_failures.insert().values(username_key=row_key, client=client, **values))
                else:
                    conn.execute(login_failures.update().where(
                        login_failures.c.username_key == row_key, login_failures.c.client == client).values(**values))
                waits.append(after.wait(now))
                if after.locked_until:
                    # Named only when the account exists: an unknown "username" may be a password typed there.
                    exists = conn.execute(sa.select(accounts.c.username).where(accounts.c.username == typed)).first()
                    log.warning("portal logins locked for %s from %s for %d s after %d failures in a row",
                                "every username" if row_key == auth.EVERY_USERNAME else
                                (f"account {typed}" if exists else "an unknown username"),
                                client or "an unknown address", after.wait(now), after.count)
            # Forget what is old, so the table holds only the last day's failures.
            conn.execute(login_failures.delete().where(
                login_failures.c.last_failure_at < auth.iso(now - auth.FORGET_AFTER),
                sa.or_(login_failures.c.locked_until.is_(None), login_failures.c.locked_until < auth.iso(now))))
        return False, max(waits)

    def session(self, session_id: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.csrf_token, sessions.c.expires_at, accounts)
                .select_from(sessions.join(accounts))
                .where(sessions.c.session_hash == auth.session_hash(session_id), accounts.c.active.is_(True))
            ).first()
        if row is None or auth.parse(row.expires_at) <= _now():
            return None
        return Session(domain.Actor(row.username, row.role, row.agency_id, row.name), row.csrf_token)

    def logout(self, session_id: str) -> None:
        with database.writing(self.engine) as conn:
            conn.execute(sessions.delete().where(sessions.c.session_hash == auth.session_hash(session_id)))


def _failures(row: Any) -> auth.Failures:
    return auth.Failures(row.failures, auth.parse(row.locked_until) if row.locked_until else None,
                         auth.parse(row.last_failure_at))


def _unlock(conn: Any, username: str) -> int:
    """Forget a username's failed logins from every address (a new password, reactivation, the CLI)."""
    return conn.execute(
        login_failures.delete().where(login_failures.c.username_key == auth.username_key(username))).rowcount


def _check_password(password: str, username: str, name: str, agency: Any) -> None:
    problem = passwords.problem(password, username, name, (agency.agency_id, agency.name) if agency else ())
    if problem:
        raise AccountError(problem.message, problem.english)
