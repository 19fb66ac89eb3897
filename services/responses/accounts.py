"""Agency portal accounts: staff, agency admins and operators; logins and sessions.

Accounts are operational data, not public facts: they live in responses'
tables, not in events (an event is journaled by publicview and archived for
good; a password hash has no place there). Who may manage whose account is
``domain.check_manage_accounts``, applied here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kesah import database
from kesah.contracts import utc_now

from . import auth, domain
from .tables import accounts, agencies, sessions

USERNAME_RE = r"^[a-z0-9][a-z0-9._-]{2,59}$"


class AccountError(ValueError):
    """The account change cannot be made; the message (Indonesian) says why."""


class LoginFailed(Exception):
    """Wrong username or password, or a locked or inactive account; the message is for the person."""


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
        username = username.strip().lower()
        if not re.match(USERNAME_RE, username):
            raise AccountError("Nama pengguna 3–60 karakter: huruf kecil, angka, titik, garis bawah atau tanda hubung.")
        if role not in domain.ROLES:
            raise AccountError("Peran harus staf, admin instansi atau operator.")
        if role == "operator":
            agency_id = None
        elif not agency_id:
            raise AccountError("Akun staf dan admin harus milik satu instansi.")
        if actor is not None:
            if role == "operator":
                domain.check_operator(actor)
            domain.check_manage_accounts(actor, agency_id)
        problem = auth.password_problem(password)
        if problem:
            raise AccountError(problem)
        if not name.strip():
            raise AccountError("Nama wajib diisi.")
        with database.writing(self.engine) as conn:
            if agency_id and conn.execute(sa.select(agencies.c.agency_id).where(agencies.c.agency_id == agency_id)).first() is None:
                raise AccountError("Instansi tidak dikenal.")
            if conn.execute(sa.select(accounts.c.username).where(accounts.c.username == username)).first():
                raise AccountError("Nama pengguna sudah dipakai.")
            conn.execute(accounts.insert().values(
                username=username, name=name.strip(), role=role, agency_id=agency_id,
                password_hash=auth.hash_password(password), active=True, failed_logins=0, locked_until=None,
                created_at=utc_now(),
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
            conn.execute(accounts.update().where(accounts.c.username == username)
                         .values(active=active, failed_logins=0, locked_until=None))
            if not active:
                conn.execute(sessions.delete().where(sessions.c.username == username))

    def set_password(self, actor: domain.Actor, username: str, password: str) -> None:
        problem = auth.password_problem(password)
        if problem:
            raise AccountError(problem)
        with database.writing(self.engine) as conn:
            self._target(conn, actor, username)
            conn.execute(accounts.update().where(accounts.c.username == username)
                         .values(password_hash=auth.hash_password(password), failed_logins=0, locked_until=None))
            conn.execute(sessions.delete().where(sessions.c.username == username))

    def listing(self, actor: domain.Actor, agency_id: str | None) -> list[dict[str, Any]]:
        """The accounts of one agency (None: operators' own accounts, for operators only)."""
        if agency_id is None:
            domain.check_operator(actor)
        else:
            domain.check_manage_accounts(actor, agency_id)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).where(
                accounts.c.agency_id == agency_id if agency_id else accounts.c.role == "operator"
            ).order_by(accounts.c.username)).all()
        now = _now()
        return [{"username": r.username, "name": r.name, "role": r.role, "active": r.active,
                 "locked": auth.is_locked(r.locked_until, now)} for r in rows]

    # --- logging in ----------------------------------------------------------------

    def login(self, username: str, password: str) -> tuple[str, str]:
        """(session id, CSRF token) for the right password; LoginFailed otherwise."""
        username = username.strip().lower()
        now = _now()
        failure: str | None = None
        with database.writing(self.engine) as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.username == username)).first()
            if row is None:
                auth.verify_password(auth.UNKNOWN_USER_HASH, password)
                failure = "Nama pengguna atau kata sandi salah."
            elif auth.is_locked(row.locked_until, now):
                failure = (f"Akun dikunci sementara karena terlalu banyak percobaan gagal. "
                           f"Coba lagi {auth.LOCK_MINUTES} menit lagi atau hubungi admin.")
            elif not auth.verify_password(row.password_hash, password):
                # The failure is counted (committed) even though the login fails.
                failed, locked_until = auth.after_failure(row.failed_logins, now)
                conn.execute(accounts.update().where(accounts.c.username == username)
                             .values(failed_logins=failed, locked_until=locked_until))
                failure = (f"Terlalu banyak percobaan gagal: akun dikunci {auth.LOCK_MINUTES} menit."
                           if locked_until else "Nama pengguna atau kata sandi salah.")
            elif not row.active:
                failure = "Akun ini tidak aktif. Hubungi admin instansi Anda."
            else:
                session_id, csrf = auth.new_session_id(), auth.new_csrf_token()
                conn.execute(accounts.update().where(accounts.c.username == username)
                             .values(failed_logins=0, locked_until=None))
                conn.execute(sessions.insert().values(
                    session_hash=auth.session_hash(session_id), username=username, csrf_token=csrf,
                    expires_at=auth.session_expiry(now)))
        if failure is not None:
            raise LoginFailed(failure)
        return session_id, csrf

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
