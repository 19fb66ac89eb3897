"""PostgreSQL least privilege: one database and one login role per service.

Each service's URL (``KESAH_<SERVICE>_DB_URL``) names its role, password
and database. ``init_roles`` makes them, connected as an admin
(``KESAH_DB_ADMIN_URL``):

- the database, owned by a role that cannot log in (``<database>_owner``):
  migrations run as it (``kesah migrate`` with the admin URL), so the app's
  role owns nothing and cannot alter, drop or disable a trigger;
- the service's login role, with CONNECT on its own database only (no other
  service's database lets it in: publicview's role cannot touch the
  owners'), USAGE on the schema, and per table what ``kesah.schema.grant``
  gives it: SELECT and INSERT on ``events`` and the journal, all DML on the
  rest (outbox and tracking rows need DELETE).

Idempotent: re-running sets passwords from the URLs again and changes
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import config, database


class RoleError(Exception):
    """A URL cannot be given its own role and database; the message says why."""


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    role: str
    password: str | None
    database: str

    @classmethod
    def from_url(cls, service: str, url: str) -> "ServiceDatabase":
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise RoleError(f"{service}'s database is not PostgreSQL; roles apply to PostgreSQL only")
        if not parsed.username or not parsed.database:
            raise RoleError(f"{service}'s database URL must name its role and database (postgresql://ROLE:PASSWORD@HOST/DATABASE)")
        return cls(service, parsed.username, parsed.password, parsed.database)

    @property
    def owner(self) -> str:
        return f"{self.database}_owner"

    def admin_url(self, admin_url: str) -> str:
        """The admin's URL, pointed at this service's database."""
        return make_url(admin_url).set(database=self.database).render_as_string(hide_password=False)


def _exists(conn: sa.Connection, query: str, name: str) -> bool:
    return conn.execute(sa.text(query), {"name": name}).first() is not None


def init_roles(admin_url: str, settings: config.Settings, services: Iterable[str]) -> list[str]:
    """Create or update each service's roles and database; returns what was done, a line each."""
    from .schema import quote

    accesses = [ServiceDatabase.from_url(s, settings.database_url(s)) for s in services]
    admins = {a.role for a in accesses} & {make_url(admin_url).username}
    if admins:
        raise RoleError(f"a service may not use the admin's role ({', '.join(admins)})")
    done = []
    engine = database.create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for a in accesses:
                role, owner, db = quote(conn, a.role), quote(conn, a.owner), quote(conn, a.database)
                if not _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = :name", a.owner):
                    conn.execute(sa.text(f"CREATE ROLE {owner} NOLOGIN"))
                    done.append(f"{a.service}: created owner role {a.owner}")
                if not _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = :name", a.role):
                    conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
                    done.append(f"{a.service}: created role {a.role}")
                conn.execute(sa.text(
                    f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                    "NOINHERIT CONNECTION LIMIT 200"
                ))
                if a.password is not None:
                    conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD :password"), {"password": a.password})
                if not _exists(conn, "SELECT 1 FROM pg_database WHERE datname = :name", a.database):
                    conn.execute(sa.text(f"CREATE DATABASE {db} OWNER {owner}"))
                    done.append(f"{a.service}: created database {a.database}")
                conn.execute(sa.text(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC"))
                conn.execute(sa.text(f"GRANT CONNECT ON DATABASE {db} TO {role}"))
                _restrict_schema(a, admin_url)
                done.append(f"{a.service}: role {a.role} may connect to {a.database} only")
    finally:
        engine.dispose()
    return done


def _restrict_schema(access: ServiceDatabase, admin_url: str) -> None:
    """In the service's database: the owner role owns the schema; the app's role may only use it."""
    from .schema import quote

    engine = database.create_engine(access.admin_url(admin_url))
    try:
        with database.writing(engine) as conn:
            role, owner = quote(conn, access.role), quote(conn, access.owner)
            conn.execute(sa.text(f"ALTER SCHEMA public OWNER TO {owner}"))
            conn.execute(sa.text("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
            conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    finally:
        engine.dispose()


def drop(admin_url: str, access: ServiceDatabase) -> None:
    """Remove a service's database and roles (tests clean up with it)."""
    from .schema import quote

    engine = database.create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote(conn, access.database)} WITH (FORCE)"))
            for name in (access.role, access.owner):
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {quote(conn, name)}"))
    finally:
        engine.dispose()
