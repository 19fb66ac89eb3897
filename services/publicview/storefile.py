"""publicview's SQLite file: found damaged, moved aside, made anew.

The public view is a copy: its journal of the owners' logs and a projection
folded from it. So a damaged file (garbage written over it, cut to 0 bytes)
is not mended. It is moved aside (kept, named with the time, for the
investigation), a new database is made by the migrations, and the journal is
refilled from the owners' logs over RPC (the service's catch-up), which
projects every complaint again. The worker does it at start and from its
self-watch (``KESAH_SELF_HEAL=on``); ``kesah replay publicview`` does it for
an operator. Only SQLite files: a PostgreSQL database is never moved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kesah import config, database, schema

log = logging.getLogger("kesah.publicview")

TABLES = ("journal", "complaints", "checkpoint")

REMEDY = ("publicview moves a damaged database file aside and refills a new one from the owners' logs by itself "
          "(KESAH_SELF_HEAL=on); by hand: 'kesah replay publicview --from sources' does the same")


@dataclass(frozen=True)
class Damage:
    """A damaged database file: where, what is wrong, and which file it was (device, inode)."""

    path: str
    reason: str
    identity: tuple[int, int] | None

    def summary(self) -> str:
        return f"publicview's database file {self.path} is damaged: {self.reason}"


def path_of(settings: config.Settings) -> str | None:
    return database.sqlite_file(settings.database_url("publicview"))


def damage(path: str | None, engine: Engine | None = None) -> Damage | None:
    """The file's damage, if any: its header, what this process's engines met, and (with ``engine``) its tables' first pages.

    A probe through ``engine`` reads the schema and the first page of each
    table; damage deeper in the file is met by the self-watch's full reads,
    which the engines remember (``kesah.database.damage_seen``).
    """
    if path is None:
        return None
    identity = database.file_identity(path)
    found = database.file_damage(path) or database.damage_seen(path)
    if found is None and engine is not None:
        try:
            with engine.connect() as conn:
                for table in sorted(set(TABLES) & tables(conn)):
                    conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").all()
        except Exception as exc:  # opening runs SQL too (the WAL switch): any damage met is the file's
            found = database.damage(exc)
            if found is None:
                raise
    return Damage(path, found, identity) if found else None


def met(exc: BaseException, path: str | None) -> Damage | None:
    """The damage an error met in the file at ``path`` (None: another error)."""
    found = database.damage(exc)
    if found is None or path is None:
        return None
    return Damage(path, found, database.file_identity(path))


def cannot_read(found: Damage) -> str:
    """One sentence for an operator's command that needs the damaged file's journal."""
    return (f"{found.summary()}; its journal cannot be read: run 'kesah replay publicview --from sources' "
            "(it moves the file aside and refills a new database from the owners' logs)")


def tables(conn: sa.Connection) -> set[str]:
    return set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars())


def unmigrated(engine: Engine) -> bool:
    """The file holds none of publicview's tables: deleted and made again empty by a connection, not migrated."""
    with engine.connect() as conn:
        return not set(TABLES) & tables(conn)


def set_aside(found: Damage, engine: Engine) -> Path | None:
    """Move the damaged file aside and make the new database's tables; where it went (None: someone else did it)."""
    target = database.move_aside(found.path, found.identity)
    if target is not None:
        log.error("%s; moved aside to %s (kept for the investigation); a new database is made", found.summary(),
                  target)
    engine.dispose()  # pooled connections to the old file go now, not one by one at their next checkout
    schema.prepare(engine, "publicview")
    return target


def heal_at_start(settings: config.Settings) -> None:
    """Before a worker opens its database: a damaged file is moved aside (KESAH_SELF_HEAL), its catch-up refills the new one."""
    path = path_of(settings)
    found = damage(path)
    if found is None or not settings.self_heal:
        return
    target = database.move_aside(found.path, found.identity)
    if target is not None:
        log.error("%s; moved aside to %s (kept for the investigation); the catch-up refills a new database "
                  "from the owners' logs", found.summary(), target)
