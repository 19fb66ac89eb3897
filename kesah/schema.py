"""How database schemas come to exist: Alembic migrations, and nothing else.

A service's database holds one or more *components*, each a set of tables
with its own migration history and its own version table: every owner's
database has the event store's tables (``eventstore``) and maybe its own
(``intake``, ``responses``); publicview's has its journal and projection;
every one has the self-watch's status table (``watch``).
``DATABASES`` says which components each service's database holds.

- ``upgrade`` runs the migrations to head, in one transaction under the
  database's write lock, so processes starting together do it once;
- ``check`` says whether a database is at head;
- ``prepare`` is what a process calls when it opens its database: on a
  local SQLite file it upgrades (``make up`` needs no steps); on
  PostgreSQL it only checks, because in production the app's role may not
  change the schema: ``kesah migrate`` runs as an init Job first.

A new or changed table needs a migration in its component's folder
(``kesah db revision COMPONENT "what changed"`` writes one by comparing the
tables in code with the migrations); ``tests/unit/test_schema.py`` fails
while code and migrations disagree.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from . import config, database

log = logging.getLogger("kesah.schema")

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class Component:
    """Tables that migrate together: where their migrations are, where the code's tables are."""

    name: str
    versions: Path
    tables: str  # "module:attribute" of the MetaData in code

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"

    def metadata(self) -> sa.MetaData:
        module, attribute = self.tables.split(":")
        return getattr(importlib.import_module(module), attribute)


COMPONENTS = {
    c.name: c
    for c in (
        Component("eventstore", ENVIRONMENT / "eventstore", "kesah.eventstore:metadata"),
        Component("watch", ENVIRONMENT / "watch", "kesah.watch:metadata"),
        Component("intake", ROOT / "services" / "intake" / "migrations", "services.intake.store:metadata"),
        Component("routing", ROOT / "services" / "routing" / "migrations", "services.routing.store:metadata"),
        Component("responses", ROOT / "services" / "responses" / "migrations", "services.responses.store:metadata"),
        Component("publicview", ROOT / "services" / "publicview" / "migrations", "services.publicview.store:metadata"),
        Component("contactvault", ROOT / "services" / "intake" / "vault_migrations",
                  "services.intake.store:vault_metadata"),
    )
}

# Which components each service's database holds, in the order they migrate.
DATABASES: dict[str, tuple[str, ...]] = {
    "intake": ("eventstore", "watch", "intake"),
    "routing": ("eventstore", "watch", "routing"),
    "responses": ("eventstore", "watch", "responses"),
    "publicview": ("watch", "publicview"),
    # Not a service: intake's per-complaint contact keys, kept apart from intake's database.
    "contactvault": ("contactvault",),
}


class SchemaError(Exception):
    """A database is not at the schema this code needs; the message says what to run."""


def alembic_config(component: str, connection: Connection | None = None) -> Config:
    c = COMPONENTS[component]
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("version_locations", str(c.versions))
    config.set_main_option("path_separator", "os")
    config.attributes.update(
        connection=connection, target_metadata=c.metadata(), version_table=c.version_table
    )
    return config


def heads(component: str) -> set[str]:
    """The head revision(s) of a component's migrations (one, unless two branches were merged badly)."""
    return set(ScriptDirectory.from_config(alembic_config(component)).get_heads())


def current(conn: Connection, component: str) -> set[str]:
    context = MigrationContext.configure(conn, opts={"version_table": COMPONENTS[component].version_table})
    return set(context.get_current_heads())


def include_name(metadata: sa.MetaData):  # type: ignore[no-untyped-def]
    """Alembic's filter: leave out tables a component makes by raw DDL.

    ``metadata.info["unmanaged_tables"]`` names them by prefix (a full-text
    index on SQLite is a virtual table with shadow tables named after it).
    """
    unmanaged = tuple(metadata.info.get("unmanaged_tables", ()))

    def include(name: str | None, type_: str, parent_names: object) -> bool:
        return not (type_ == "table" and unmanaged and (name or "").startswith(unmanaged))

    return include


def differences(conn: Connection, component: str) -> list:
    """What the code's tables have that the database's differ in (Alembic autogenerate's diff)."""
    from alembic.autogenerate import compare_metadata

    c = COMPONENTS[component]
    context = MigrationContext.configure(conn, opts={"version_table": c.version_table, "compare_type": True,
                                                     "include_name": include_name(c.metadata())})
    return compare_metadata(context, c.metadata())


def _behind(conn: Connection, components: Iterable[str]) -> dict[str, tuple[set[str], set[str]]]:
    """Components not at head: name -> (current revisions, head revisions)."""
    behind = {}
    for component in components:
        now, wanted = current(conn, component), heads(component)
        if now != wanted:
            behind[component] = (now, wanted)
    return behind


def upgrade(
    engine: Engine, components: Sequence[str], *, as_role: str | None = None, grant_to: str | None = None
) -> list[str]:
    """Migrate the components to head; returns the components that changed. Idempotent.

    On PostgreSQL, ``as_role`` makes the database's owner role own what the
    migrations create (the connection's user must be a member of it), and
    ``grant_to`` gives the app's role exactly its privileges afterwards.
    """
    changed = []
    with database.writing(engine) as conn:
        if as_role:
            conn.execute(sa.text(f"SET LOCAL ROLE {quote(conn, as_role)}"))
        database.write_lock(conn, "kesah-schema")
        for component in _behind(conn, components):
            log.info("migrating %s in %s", component, engine.url.render_as_string(hide_password=True))
            command.upgrade(alembic_config(component, conn), "head")
            changed.append(component)
        if grant_to:
            grant(conn, components, grant_to)
    return changed


DEFAULT_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def privileges(table: sa.Table) -> tuple[str, ...]:
    """What the app's role may do to a table: all DML unless the table says less (``info["privileges"]``)."""
    return tuple(table.info.get("privileges", DEFAULT_PRIVILEGES))


def grant(conn: Connection, components: Sequence[str], role: str) -> None:
    """Give the app's role its privileges on every table of the components, and nothing more."""
    who = quote(conn, role)
    for component in components:
        c = COMPONENTS[component]
        # The app checks the schema version when it starts; it never changes it.
        conn.execute(sa.text(f"REVOKE ALL ON {quote(conn, c.version_table)} FROM {who}"))
        conn.execute(sa.text(f"GRANT SELECT ON {quote(conn, c.version_table)} TO {who}"))
        for table in c.metadata().sorted_tables:
            conn.execute(sa.text(f"REVOKE ALL ON {quote(conn, table.name)} FROM {who}"))
            conn.execute(sa.text(f"GRANT {', '.join(privileges(table))} ON {quote(conn, table.name)} TO {who}"))
        # Tables made by raw DDL (a full-text index) are written like any other.
        for name in c.metadata().info.get("unmanaged_tables", ()):
            if conn.execute(sa.text("SELECT to_regclass(:name)"), {"name": name}).scalar() is not None:
                conn.execute(sa.text(f"REVOKE ALL ON {quote(conn, name)} FROM {who}"))
                conn.execute(sa.text(f"GRANT {', '.join(DEFAULT_PRIVILEGES)} ON {quote(conn, name)} TO {who}"))


def quote(conn: Connection, identifier: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(identifier)


def check(engine: Engine, components: Sequence[str], service: str = "") -> None:
    """Raise SchemaError unless every component is at head."""
    with database.reading(engine) as conn:
        behind = _behind(conn, components)
    if behind:
        details = "; ".join(
            f"{name} at {_revisions(now)}, code needs {_revisions(wanted)}" for name, (now, wanted) in behind.items()
        )
        where = f"{service}'s database" if service else "the database"
        raise SchemaError(f"{where} is not migrated ({details}): run 'kesah migrate {service or 'all'}'")


def prepare(engine: Engine, service: str) -> None:
    """Called when a process opens a service's database: upgrade on SQLite, check elsewhere."""
    components = DATABASES[service]
    if database.is_sqlite(engine):
        upgrade(engine, components)
    else:
        check(engine, components, service)


def _revisions(revisions: set[str]) -> str:
    return ",".join(sorted(revisions)) or "nothing"


def new_revision(component: str, message: str) -> Path | None:
    """Write the migration that brings the component's migrations up to its tables in code.

    Compares a scratch SQLite database migrated to head with the code's
    MetaData (Alembic autogenerate). Returns the new file, or None when
    nothing differs. Review it: autogenerate does not see everything (a
    renamed column looks like a drop and an add).
    """
    import tempfile

    scratch = tempfile.TemporaryDirectory(prefix="kesah-revision-")
    engine = database.create_engine(f"sqlite:///{scratch.name}/scratch.db")
    try:
        upgrade(engine, [component])
        with engine.connect() as conn:
            if not differences(conn, component):
                return None
            number = len(list(ScriptDirectory.from_config(alembic_config(component)).walk_revisions())) + 1
            script = command.revision(
                alembic_config(component, conn), message, autogenerate=True, rev_id=f"{number:04d}"
            )
    finally:
        engine.dispose()
        scratch.cleanup()
    return Path(script.path) if script and not isinstance(script, list) else None


def migrate(settings: config.Settings, services: Sequence[str]) -> dict[str, list[str]]:
    """Upgrade each service's database to head: ``kesah migrate``, the production init Job.

    With ``KESAH_DB_ADMIN_URL`` set (PostgreSQL with one role per service,
    see kesah.roles), it connects to each service's database as the admin,
    creates the tables as the database's owner role and grants the service's
    role its privileges. Without it, it connects with the service's own URL.
    """
    from . import roles

    changed = {}
    for service in services:
        url = settings.database_url(service)
        if settings.db_admin_url and not database.is_sqlite(url):
            access = roles.ServiceDatabase.from_url(service, url)
            engine = database.create_engine(access.admin_url(settings.db_admin_url))
            options = {"as_role": access.owner, "grant_to": access.role}
        else:
            engine = database.create_engine(url)
            options = {}
        try:
            changed[service] = upgrade(engine, DATABASES[service], **options)
        finally:
            engine.dispose()
    return changed
