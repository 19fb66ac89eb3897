"""Telling a damaged SQLite file from other database trouble, and moving one aside."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from kesah import database, health


def sqlite_error(text: str, code: int | None = None) -> sqlite3.DatabaseError:
    error = sqlite3.DatabaseError(text)
    if code is not None:
        error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("error, expected", [
    (sqlite_error("file is not a database", 26), "file is not a database"),
    (sqlite_error("database disk image is malformed", 11), "database disk image is malformed"),
    (sqlite_error("malformed inverted index for FTS5 table", 11 | (1 << 8)), "malformed inverted index for FTS5 table"),
    (sqlite_error("database disk image is malformed: x.db is empty while its write-ahead log is not"),
     "database disk image is malformed: x.db is empty while its write-ahead log is not"),
])
def test_damage_is_named_from_the_drivers_error(error: sqlite3.DatabaseError, expected: str) -> None:
    assert database.damage(error) == expected
    wrapped = sa.exc.DatabaseError("SELECT 1", {}, error)
    assert database.damage(wrapped) == expected


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("no such table: journal"),
    sqlite3.IntegrityError("UNIQUE constraint failed: journal.event_id"),
    sqlite_error("database or disk is full", 13),
    ValueError("file is not a database"),  # not the database's error at all
])
def test_other_errors_are_not_damage(error: Exception) -> None:
    assert database.damage(error) is None


def make_database(path: Path) -> None:
    engine = database.create_engine(f"sqlite:///{path}")
    with database.writing(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()


def test_a_file_is_judged_by_its_header(tmp_path: Path) -> None:
    whole = tmp_path / "whole.db"
    make_database(whole)
    assert database.file_damage(whole) is None
    assert database.file_damage(tmp_path / "not-there.db") is None  # it will be made
    (tmp_path / "empty.db").write_bytes(b"")
    assert database.file_damage(tmp_path / "empty.db") == "it is empty (0 bytes)"
    (tmp_path / "garbage.db").write_bytes(os.urandom(8192))
    assert database.file_damage(tmp_path / "garbage.db") == "it is not an SQLite database (its header is wrong)"


def test_the_store_check_sees_garbage_and_an_emptied_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    make_database(path)
    engine = database.create_engine(f"sqlite:///{path}")
    check = health.database_check(engine)
    assert check() is None
    data = path.read_bytes()
    path.write_bytes(os.urandom(len(data)))
    assert "is damaged: it is not an SQLite database" in (check() or "")
    path.write_bytes(b"")
    assert "is damaged: it is empty (0 bytes)" in (check() or "")
    engine.dispose()


def test_an_engine_remembers_the_damage_it_met_until_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    make_database(path)
    engine = database.create_engine(f"sqlite:///{path}")
    with open(path, "r+b") as fh:  # garbage past the header: only a read of the pages finds it
        fh.seek(100)
        fh.write(os.urandom(os.path.getsize(path) - 100))
    with pytest.raises(sa.exc.DatabaseError):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM t").all()
    assert database.damage_seen(str(path)) is not None
    engine.dispose()
    database.move_aside(str(path))
    make_database(path)
    assert database.damage_seen(str(path)) is None


def test_moving_aside_keeps_the_file_and_its_log_under_a_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "publicview.db"
    for suffix, content in (("", b"garbage"), ("-wal", b"log"), ("-shm", b"index")):
        Path(f"{path}{suffix}").write_bytes(content)
    found = database.file_identity(str(path))
    now = dt.datetime(2026, 12, 7, 2, 30, 5, tzinfo=dt.timezone.utc)
    target = database.move_aside(str(path), found, now=now)
    assert target == tmp_path / "publicview.db.corrupt-20261207T023005Z"
    assert target.read_bytes() == b"garbage"
    assert Path(f"{target}-wal").read_bytes() == b"log" and Path(f"{target}-shm").read_bytes() == b"index"
    assert not any(Path(f"{path}{s}").exists() for s in ("", "-wal", "-shm"))

    # Another process replaced it meanwhile: the new file is not the one found damaged, so it stays.
    path.write_bytes(b"more garbage")
    assert database.move_aside(str(path), found, now=now) is None
    assert path.read_bytes() == b"more garbage"
    second = database.move_aside(str(path), database.file_identity(str(path)), now=now)
    assert second == tmp_path / "publicview.db.corrupt-20261207T023005Z-2"


def test_an_engine_stops_using_a_file_damaged_under_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = database.create_engine(f"sqlite:///{path}")
    with database.writing(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.connect() as conn:  # a pooled connection, opened while the file was whole
        conn.exec_driver_sql("SELECT * FROM t").all()
    with engine.connect() as conn:
        # Everything in the file, nothing in the -wal: closing the connection cannot write the header back.
        conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    with open(path, "r+b") as fh:
        fh.write(b"\xff" * 100)
    # The pooled connection could still answer from the -wal; it is dropped, and a new one refused.
    with pytest.raises(sa.exc.DatabaseError) as raised:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM t").all()
    assert database.damage(raised.value) == f"file is not a database: {path}: it is not an SQLite database " \
                                            "(its header is wrong)"
    engine.dispose()


def test_a_new_file_is_empty_until_made_and_is_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    path.write_bytes(b"")  # as another process's connect leaves it for a moment
    engine = database.create_engine(f"sqlite:///{path}")
    with database.writing(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert database.file_damage(path) is None
    engine.dispose()


LAST_ONE_OUT = ("import sqlite3, sys\n"
                "c = sqlite3.connect(sys.argv[1]); c.execute('SELECT * FROM t').fetchall(); c.close()")


def test_reading_the_header_keeps_sqlites_locks(tmp_path: Path) -> None:
    """Closing a descriptor drops the process's POSIX locks: another process would think it is the last
    user of the file and delete the -wal this process's connection still uses."""
    import subprocess
    import sys

    path = tmp_path / "store.db"
    make_database(path)
    engine = database.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:  # stays open in the pool: its lock says the -wal is in use
        conn.exec_driver_sql("SELECT * FROM t").all()
    for _ in range(3):
        assert database.file_damage(path) is None
    subprocess.run([sys.executable, "-c", LAST_ONE_OUT, str(path)], check=True)
    assert Path(f"{path}-wal").exists()
    engine.dispose()


def test_a_kept_descriptor_goes_once_its_file_has(tmp_path: Path) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    make_database(first)
    make_database(second)
    assert database.file_damage(first) is None
    kept = len(database._kept)
    first.unlink()
    assert database.file_damage(second) is None
    assert len(database._kept) == kept  # first's descriptor closed, second's opened


def test_a_citizen_is_told_the_page_is_being_restored_only_when_it_is() -> None:
    from services.publicview.web import RECOVERING, database_unavailable

    damaged = sa.exc.DatabaseError("SELECT 1", {}, sqlite_error("file is not a database", 26))
    emptied = sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: complaints"))
    locked = sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    assert database_unavailable(damaged) == RECOVERING
    assert database_unavailable(emptied) == RECOVERING
    assert database_unavailable(locked) == "Layanan sedang tidak siap. Silakan coba lagi sebentar lagi."
    bug = sa.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert database_unavailable(bug) is None  # a bug stays a 500, logged with its traceback
    assert database_unavailable(KeyError("x")) is None
