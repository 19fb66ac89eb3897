"""A full disk under a store: how it is measured, told and named."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from kesah import database
from kesah.alerts import message
from kesah.diskspace import MB, DiskSpace, Reading, assess, measure


class Vfs:
    """A statvfs answer with ``free`` bytes available."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.asked: list[str] = []

    def __call__(self, path: str) -> os.statvfs_result:
        self.asked.append(path)
        blocks = self.free // 4096
        return os.statvfs_result((4096, 4096, 10**6, blocks, blocks, 1000, 500, 500, 0, 255))


def test_enough_space_is_no_problem_and_too_little_names_store_path_and_threshold() -> None:
    ok = Reading("intake", "/srv/intake.db", 200 * MB)
    assert assess([ok], 64 * MB, {}) is None
    low = Reading("publicview", "/srv/pv/publicview.db", MB // 2)
    problem = assess([ok, low], 64 * MB, {})
    assert problem is not None
    assert problem.startswith("disk full under publicview's store /srv/pv/publicview.db: 0.5 MB free")
    assert "KESAH_DISK_MIN_FREE_MB (64.0 MB)" in problem and "intake" not in problem


def test_a_refused_write_is_a_problem_even_where_no_free_space_can_be_measured() -> None:
    remote = Reading("intake", "postgresql db/kesah_intake", None)
    assert assess([remote], 64 * MB, {"intake": 0}) is None
    problem = assess([remote], 64 * MB, {"intake": 2})
    assert problem and "2 write(s) refused" in problem and "53100" in problem


def test_an_unmeasurable_disk_is_said_so() -> None:
    problem = assess([Reading("intake", "/x/intake.db", None, "PermissionError: denied")], MB, {})
    assert problem and "free space unknown (PermissionError: denied)" in problem


def test_measure_asks_the_directory_when_the_file_does_not_exist_yet(tmp_path: Path) -> None:
    vfs = Vfs(5 * MB)
    reading = measure("routing", f"sqlite:///{tmp_path}/not-yet/routing.db", vfs)
    assert reading == Reading("routing", str(tmp_path / "not-yet" / "routing.db"), 5 * MB)
    assert vfs.asked == [str(tmp_path)]
    assert measure("routing", "postgresql://u@h/db", vfs).free is None


def test_measured_space_decides_and_refused_writes_only_where_space_is_not_judged() -> None:
    roomy = Reading("intake", "/srv/intake.db", 500 * MB)
    assert assess([roomy], 64 * MB, {"intake": 3}) is None  # refused while space was short; it is back
    assert "3 write(s) refused" in (assess([roomy], 0, {"intake": 3}) or "")  # threshold 0: no judging by space


def test_the_watch_counts_refused_writes_since_its_last_round(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/intake.db"
    engine = database.create_engine(url)
    with database.writing(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
    vfs = Vfs(500 * MB)
    watch = DiskSpace({"intake": url}, 0, vfs)  # no threshold: only refused writes tell
    assert watch.round().problem is None

    # A real SQLITE_FULL: the database may not grow past its page limit.
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA max_page_count = 2")
        conn.commit()
        with pytest.raises(sa.exc.OperationalError) as refused:
            with conn.begin():
                conn.exec_driver_sql("INSERT INTO t VALUES (?)", ("x" * 100_000,))
    assert database.disk_full(refused.value)
    finding = watch.round()
    assert finding.problem and "1 write(s) refused" in finding.problem and str(tmp_path / "intake.db") in finding.problem
    assert finding.details["refused_writes"] == {"intake": 1}
    assert watch.round().problem is None  # nothing refused since
    text = "\n".join(f"{f.name} {f.samples}" for f in watch.families())
    assert "kesah_disk_free_bytes" in text and str(500 * MB) in text
    watch.min_free = 64 * MB
    vfs.free = 10 * MB
    assert "10.0 MB free" in (watch.problem() or "")
    engine.dispose()


def test_disk_full_tells_a_full_disk_from_other_database_errors() -> None:
    full = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    class PgError(Exception):
        pgcode = "53100"

    assert database.disk_full(full) and not database.disk_full(locked)
    assert database.disk_full(sa.exc.OperationalError("INSERT", {}, PgError("could not extend file")))
    assert database.disk_full(OSError(28, "No space left on device"))


def test_the_alerts_say_in_indonesian_which_store_is_full() -> None:
    text = message("publicview", "disk", "disk full under publicview's store ...", {
        "min_free_bytes": 64 * MB, "refused_writes": {"publicview": 0},
        "stores": [{"store": "publicview", "path": "/srv/publicview.db", "free_bytes": 0, "error": None}]})
    assert "disk penyimpanan penuh" in text and "publicview (/srv/publicview.db, sisa 0.0 MB)" in text
    text = message("relay", "outbox intake", "disk full: cannot record ...", {
        "store": "intake", "path": "/srv/intake.db", "confirmed_unrecorded": 3, "disk_full": True})
    assert "relay tidak dapat mencatat peristiwa intake" in text and "disk penuh: /srv/intake.db" in text
