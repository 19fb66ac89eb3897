"""A full disk under a store: seen before writes fail, named when they do.

A SQLite store on a full disk still answers reads, so the store check
(``SELECT 1``) stays green while every write fails. ``DiskSpace`` is the
``disk`` watch of a process's Watchdog: each round it measures the free
space of the filesystem under each of the process's SQLite files
(``os.statvfs``) and counts the writes that failed for a full disk
(SQLITE_FULL, PostgreSQL SQLSTATE 53100; ``kesah.database`` counts them).
Free space below ``KESAH_DISK_MIN_FREE_MB``, or a write refused since the
last round, is a problem: the process is unready and an alert names it,
the store and the path. ``problem`` is also the live readiness check of the
HTTP faces, which write to the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from . import database
from .metrics import Family
from .watch import Finding

MB = 1024 * 1024


@dataclass(frozen=True)
class Reading:
    """One store's disk as measured: ``free`` bytes (None: not measurable here, e.g. PostgreSQL)."""

    store: str
    path: str
    free: int | None
    error: str | None = None


def assess(readings: Sequence[Reading], min_free: int, refused: Mapping[str, int]) -> str | None:
    """What is wrong with the disks under these stores, in one line (None: nothing). Pure.

    A store whose free space is measured is judged by it (writes refused a
    moment ago while space was short do not keep it unready once space is
    back); one that is not (PostgreSQL, or a threshold of 0) by the writes
    refused for a full disk since the last look (``refused``: store -> count).
    """
    problems = []
    for r in readings:
        if r.error is not None:
            problems.append(f"{r.store}'s store {r.path}: free space unknown ({r.error})")
        elif r.free is not None and min_free > 0:
            if r.free < min_free:
                problems.append(f"disk full under {r.store}'s store {r.path}: {_mb(r.free)} free, "
                                f"below KESAH_DISK_MIN_FREE_MB ({_mb(min_free)})")
        elif refused.get(r.store):
            problems.append(f"disk full under {r.store}'s store {r.path}: {refused[r.store]} write(s) refused "
                            f"(SQLITE_FULL / SQLSTATE 53100 disk_full)")
    if not problems:
        return None
    return "; ".join(problems) + "; writes to it fail until space is freed (docs/runbook.md, 'A full disk')"


def _mb(value: int) -> str:
    return f"{value / MB:.1f} MB"


def measure(store: str, url: str, statvfs: Callable[[str], os.statvfs_result] = os.statvfs) -> Reading:
    """The free bytes of the filesystem holding a SQLite file (its directory: the file may not exist yet)."""
    path = database.sqlite_path(url)
    if path is None:
        return Reading(store, database.label(url), None)
    try:
        st = statvfs(str(_existing(path)))
    except OSError as exc:
        return Reading(store, str(path), None, f"{exc.__class__.__name__}: {exc.strerror or exc}")
    return Reading(store, str(path), st.f_bavail * st.f_frsize)


def _existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


class DiskSpace:
    """The ``disk`` watch: the free space under a process's stores, and writes refused for a full disk."""

    name = "disk"

    def __init__(self, stores: Mapping[str, str], min_free_bytes: int,
                 statvfs: Callable[[str], os.statvfs_result] = os.statvfs) -> None:
        self.stores = dict(stores)  # store name -> database URL
        self.labels = {store: database.label(url) for store, url in self.stores.items()}
        self.min_free = min_free_bytes
        self.statvfs = statvfs
        self.readings: list[Reading] = []
        self._seen = self._errors()

    def _errors(self) -> dict[str, int]:
        counted = database.disk_full_errors()
        return {store: counted.get(label, 0) for store, label in self.labels.items()}

    def problem(self) -> str | None:
        """Free space only (a readiness check of an HTTP face: cheap, no state)."""
        return assess([measure(s, u, self.statvfs) for s, u in self.stores.items()], self.min_free, {})

    def round(self) -> Finding:
        self.readings = [measure(s, u, self.statvfs) for s, u in self.stores.items()]
        errors = self._errors()
        refused = {s: errors[s] - self._seen.get(s, 0) for s in errors}
        self._seen = errors
        details = {"min_free_bytes": self.min_free, "refused_writes": refused,
                   "stores": [{"store": r.store, "path": r.path, "free_bytes": r.free, "error": r.error}
                              for r in self.readings]}
        return Finding(assess(self.readings, self.min_free, refused), details)

    def families(self) -> list[Family]:
        free = Family("kesah_disk_free_bytes", "gauge", "free bytes of the filesystem under a SQLite store")
        for r in self.readings:
            if r.free is not None:
                free.add(r.free, store=r.store, path=r.path)
        return [free,
                Family("kesah_disk_min_free_bytes", "gauge", "free space below which a store's disk counts as full")
                .add(self.min_free),
                full_errors_family()]


def full_errors_family() -> Family:
    """Writes this process saw refused for a full disk, per database."""
    family = Family("kesah_disk_full_errors_total", "counter",
                    "writes refused for a full disk (SQLITE_FULL, SQLSTATE 53100)")
    for label, count in sorted(database.disk_full_errors().items()):
        family.add(count, database=label)
    return family
