"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

Writers take the store's write lock at the start of the transaction (SQLite
``BEGIN IMMEDIATE``; PostgreSQL takes a table lock in the event store), so
positions are assigned by one writer at a time and commit in order.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import errno
import fcntl
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

_WRITE = "kesah_write"


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def create_engine(url: str, *, durable: bool = True, small: bool = False) -> Engine:
    """An engine with the project's settings for its backend.

    ``durable=False`` relaxes SQLite's fsync for disposable data (projections).
    ``small=True``: at most two connections, for a background check that
    must not take what the handlers need.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_size=1 if small else 8, max_overflow=1 if small else 8)
        synchronous = "FULL" if durable else "NORMAL"

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy's "begin" event decide how a transaction begins.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _use_wal(cursor, parsed.database)
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        if parsed.database and parsed.database != ":memory:":
            _follow_the_file(engine, parsed.database)
            _notice_damage(engine, parsed.database)
        _count_disk_full(engine, label(parsed))

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A writer takes the database's write lock up front: no deadlock
            # upgrading a read lock, and positions are assigned in commit order.
            if conn.get_execution_options().get(_WRITE):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        # A server has a connection limit shared by every process of every
        # service: keep two open per engine, borrow more only in bursts.
        engine = sa.create_engine(parsed, pool_size=1 if small else 2, max_overflow=1 if small else 6,
                                  pool_pre_ping=True)
        _count_disk_full(engine, label(parsed))
        return engine
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)}: use sqlite:/// or postgresql://")


def label(url: Any) -> str:
    """How metrics and messages name a database: a SQLite file's path, a PostgreSQL database's name."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database).resolve()) if parsed.database and parsed.database != ":memory:" else ":memory:"
    # A multi-host URL (?host=a:p&host=b:p, the writable one chosen at connect) names its hosts in the query.
    hosts = parsed.query.get("host") or ()
    host = parsed.host or ",".join([hosts] if isinstance(hosts, str) else hosts)
    return f"postgresql {host}/{parsed.database or ''}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def disk_full(exc: BaseException) -> bool:
    """A write refused because the disk (or the database server's disk) is full.

    SQLite says SQLITE_FULL ("database or disk is full"), PostgreSQL SQLSTATE
    53100 (disk_full); both arrive wrapped in SQLAlchemy's DBAPIError.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
                return True
            if "database or disk is full" in str(current):
                return True
        if getattr(current, "pgcode", None) == "53100":
            return True
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


# Writes this process saw refused for a full disk, per database (label): a metric, and a hint to
# the disk watch on PostgreSQL, whose disk no statvfs here can see.
_disk_full_errors: collections.Counter[str] = collections.Counter()
_disk_full_lock = threading.Lock()


def disk_full_errors() -> dict[str, int]:
    with _disk_full_lock:
        return dict(_disk_full_errors)


def _count_disk_full(engine: Engine, name: str) -> None:
    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if disk_full(context.original_exception):
            with _disk_full_lock:
                _disk_full_errors[name] += 1


def _use_wal(cursor: sqlite3.Cursor, path: str | None = None, *, patience: float = 30.0) -> None:
    """Put the database in WAL mode, waiting out other connections doing the same.

    The switch needs the file's exclusive lock, and SQLite answers "database
    is locked" at once, without its busy wait, to one of two connections that
    race for it (processes opening a new file together). The mode is stored in
    the file, so the loser retries until the winner's switch is visible.
    """
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) and path and emptied_under_wal(path):
                # Not a race to wait out: the file was emptied while others still use its log.
                raise sqlite3.DatabaseError(f"database disk image is malformed: {path} is empty "
                                            "while its write-ahead log is not") from None
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause + random.uniform(0, pause))
        pause = min(pause * 2, 0.25)


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a file, None when there is none: tells a replaced database file from the one opened."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _follow_the_file(engine: Engine, path: str) -> None:
    """A pooled connection to a database file that was since deleted or replaced is dropped, not used.

    An open SQLite connection keeps the file it opened, even after that file
    is deleted: without this, a running service would go on reading and
    writing a deleted database while the operator rebuilds a new one at the
    same path (``kesah replay publicview``), and never see it.
    """

    @sa.event.listens_for(engine, "connect")
    def _opened(dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["file"] = file_identity(path)

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):  # type: ignore[no-untyped-def]
        if record.info.get("file") != file_identity(path):
            raise sa.exc.DisconnectionError(f"database file {path} was deleted or replaced")
        # A connection opened before the file was damaged may answer from its cache, or wait 30 s on a
        # lock (blocking an eventlet worker whole): it is dropped, and a new one is refused at once.
        if file_damage(path) is not None:
            raise sa.exc.DisconnectionError(f"database file {path} is damaged")


# --- a damaged SQLite file -------------------------------------------------------------------

SQLITE_HEADER = b"SQLite format 3\x00"
EMPTY = "it is empty (0 bytes)"
# SQLite's primary result codes that mean the file itself is damaged (extended codes keep them in the low byte).
_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
_DAMAGE_TEXTS = ("file is not a database", "database disk image is malformed")


def damage(exc: BaseException) -> str | None:
    """What is wrong with a database file when ``exc`` says it is damaged; None for any other error.

    Garbage written over a file is "file is not a database", a cut or
    overwritten page "database disk image is malformed". Such a file does
    not mend by waiting: it is replaced (publicview) or restored (an owner).
    """
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if not isinstance(orig, sqlite3.DatabaseError):
        return None
    code = getattr(orig, "sqlite_errorcode", None)
    text = str(orig).splitlines()[0] if str(orig) else orig.__class__.__name__
    if isinstance(code, int) and (code & 0xFF) in _DAMAGE_CODES:
        return text
    return text if any(known in text for known in _DAMAGE_TEXTS) else None


def file_damage(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with an SQLite database file, judged from its first 100 bytes; None when it looks whole.

    A file that is not there is not damaged (it will be made). Every file
    this code opens is put in WAL mode at once, which writes the header, so
    an empty file is one that was cut, not one being made.
    """
    try:
        head = _read_head(os.fspath(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not head:
        return EMPTY
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        return "it is not an SQLite database (its header is wrong)"
    return None


_kept: list[tuple[tuple[int, int], str, int]] = []  # (file identity, path, descriptor)


def _read_head(path: str) -> bytes:
    """The file's first 100 bytes, through a descriptor this process keeps open while the file is at its path.

    Closing any descriptor of a file drops every POSIX lock the process holds
    on it, SQLite's included: a connection would then look like the last one
    to another process, which checkpoints and deletes the -wal and -shm the
    connection still uses. So a descriptor is closed only once its file has
    left its path (replaced, moved aside or deleted), when the engines drop
    their connections to it anyway.
    """
    identity = file_identity(path)
    if identity is None:
        raise FileNotFoundError(path)
    descriptor = next((d for i, _, d in _kept if i == identity), None)
    if descriptor is None:
        for gone in [k for k in _kept if file_identity(k[1]) != k[0]]:
            _kept.remove(gone)
            os.close(gone[2])
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        opened = os.fstat(descriptor)
        _kept.append(((opened.st_dev, opened.st_ino), path, descriptor))  # the file may have been replaced meanwhile
    return os.pread(descriptor, 100, 0)


def emptied_under_wal(path: str) -> bool:
    """The file is empty while its write-ahead log holds pages: it was cut under running connections."""
    try:
        return os.path.getsize(path) == 0 and os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def sqlite_file(engine_or_url: Engine | str) -> str | None:
    """The path of an SQLite database file, as a string; None for PostgreSQL or an in-memory database."""
    path = sqlite_path(engine_or_url.url if isinstance(engine_or_url, Engine) else engine_or_url)  # type: ignore[arg-type]
    return None if path is None else str(path)


_seen_damage: dict[str, tuple[tuple[int, int] | None, str]] = {}


def damage_seen(path: str) -> str | None:
    """The damage an engine of this process met on the file now at ``path``, if any (forgotten once replaced)."""
    seen = _seen_damage.get(os.path.abspath(path))
    if seen is None or seen[0] != file_identity(path):
        return None
    return seen[1]


def _notice_damage(engine: Engine, path: str) -> None:
    """Remember a damaged file (for the self-watch), and drop the connection that met it.

    A connection to a damaged file may go on answering from pages it holds
    (its cache, the write-ahead log); a fresh one meets the damage at once.
    """

    @sa.event.listens_for(engine, "do_connect")
    def _refuse(dialect, record, cargs, cparams):  # type: ignore[no-untyped-def]
        # A damaged file is refused at once: SQLite would read what the -wal holds of it, and wait for
        # locks. An empty file is a new one, unless it was emptied under a live write-ahead log.
        if emptied_under_wal(path):
            raise sqlite3.DatabaseError(f"database disk image is malformed: {path} is empty "
                                        "while its write-ahead log is not")
        found = file_damage(path)
        if found is not None and found != EMPTY:
            raise sqlite3.DatabaseError(f"file is not a database: {path}: {found}")

    @sa.event.listens_for(engine, "handle_error")
    def _error(context):  # type: ignore[no-untyped-def]
        found = damage(context.original_exception)
        if found is not None:
            _seen_damage[os.path.abspath(path)] = (file_identity(path), found)
            context.is_disconnect = True


def move_aside(path: str, expected: tuple[int, int] | None = None, now: dt.datetime | None = None) -> Path | None:
    """Rename a damaged SQLite file, with its -wal and -shm, to ``<path>.corrupt-<UTC time>``; kept for forensics.

    ``expected``: the identity of the file found damaged; None is returned,
    and nothing moved, when another process has replaced it meanwhile. Its
    -wal and -shm go first and again last: a new database at the path must
    never pick up the old one's log. Processes using the old file follow to
    the new one (``_follow_the_file``); SQLite does not checkpoint into, or
    delete the log of, a file that has moved.
    """
    source = Path(path)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    with _directory_lock(source.parent):
        if not source.exists() or (expected is not None and file_identity(path) != expected):
            return None
        target = source.with_name(f"{source.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = source.with_name(f"{source.name}.corrupt-{stamp}-{n}")
        for suffix in ("-wal", "-shm"):
            _rename_if_there(Path(f"{source}{suffix}"), Path(f"{target}{suffix}"))
        os.rename(source, target)
        for suffix in ("-wal", "-shm"):  # made by a connection to the old file meanwhile
            _rename_if_there(Path(f"{source}{suffix}"), Path(f"{target}{suffix}.late"))
        descriptor = os.open(source.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return target


def _rename_if_there(source: Path, target: Path) -> None:
    try:
        os.rename(source, target)
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """One process at a time moves files in the directory (the worker healing, an operator's replay)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: holds the write lock on SQLite from its start."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        with conn.begin():
            yield conn


def make_green() -> None:
    """Let psycopg2 yield to eventlet while it waits on the server.

    Called by nameko service processes, which run on eventlet; without it a
    slow query blocks every other green thread.
    """
    try:
        import psycopg2
        from psycopg2 import extensions
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return
    from eventlet.hubs import trampoline

    def wait_callback(conn, timeout=None):  # type: ignore[no-untyped-def]
        while True:
            state = conn.poll()
            if state == extensions.POLL_OK:
                break
            elif state == extensions.POLL_READ:
                trampoline(conn.fileno(), read=True)
            elif state == extensions.POLL_WRITE:
                trampoline(conn.fileno(), write=True)
            else:
                raise psycopg2.OperationalError(f"bad result from poll: {state!r}")

    extensions.set_wait_callback(wait_callback)


def transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the work: the database is away, restarting, failing over,
    or out of connections. Worth waiting out; never worth doing the same work again at once."""
    from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout

    if isinstance(exc, (OperationalError, PoolTimeout, ConnectionError, TimeoutError)):
        return True
    if damage(exc) is not None:  # a damaged file: publicview replaces it by itself, an operator restores an owner's
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def write_lock(conn: Connection, name: str) -> None:
    """Serialize writers of one kind in a PostgreSQL database until the transaction ends.

    An advisory lock needs no privilege on any table (the app's role may
    only insert into the events table) and does not block readers. SQLite's
    ``BEGIN IMMEDIATE`` already holds the whole database's write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})


def _lock_key(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode("utf-8"))
