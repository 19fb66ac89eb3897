"""7. Memory: peak RSS of each service with a small and a big log: flat in the log's size?

Two generated installations (bench/generate.py; ``--memory-events``, by
default 100k and 1M events in publicview's journal, the owners' stores
holding their share) are started whole, as ``kesah up`` starts them (SQLite
files). Each worker verifies its whole log at start (publicview: its journal,
then its projection against a rebuild from the journal); the case waits for
every first round to be recorded, sends a few complaints through the whole
pipeline, then reads each process's peak resident set (``VmHWM``).

The baseline of each service is its own peak with the small log, so the
ratio is small/big: 100% means the log's size costs no memory at all;
reading the whole log into memory would show as a ratio near
small size / big size.
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from bench.generate import Dataset, dataset
from bench.harness import Figure, Run
from kesah import config, database, devserver
from kesah.contracts import utc_now
from kesah.watch import watch_status

CASE = "7 memory"
TARGET = 0.9


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def rounds_done(system: object, since: str) -> list[str]:
    """The services whose worker has not recorded a watch round since ``since`` yet."""
    waiting = []
    for service in config.SERVICES:
        engine = database.create_engine(system.settings.database_url(service))  # type: ignore[attr-defined]
        try:
            with engine.connect() as conn:
                rows = {r.name: r.checked_at for r in conn.execute(sa.select(watch_status))}
        finally:
            engine.dispose()
        names = ("integrity", "projection") if service == "publicview" else ("integrity",)
        if any(rows.get(name, "") < since for name in names):
            waiting.append(service)
    return waiting


def start(r: Run, data: Dataset) -> tuple[object, str, float]:
    """The whole installation of ``data``, started; (system, when, monotonic start)."""
    name = f"memory-{data.events}"
    data.copy(r.work / name)  # the system's data directory: its stores are there before it starts
    system = r.system(name, extra_env={"KESAH_VERIFY_INTERVAL": "3600"})
    since = utc_now()
    began = time.monotonic()
    system.start()
    return system, since, began


def measure(r: Run, data: Dataset, system: object, since: str, began: float) -> dict[str, float]:
    """Wait for the first verification rounds, send complaints through, read every process's peak RSS."""
    waiting = rounds_done(system, since)
    while waiting and time.monotonic() - began < r.sizes.memory_wait:
        time.sleep(2)
        waiting = rounds_done(system, since)
    verified = time.monotonic() - began
    if waiting:  # a long log on a busy machine: memory is read in the middle of the round
        r.note(CASE, f"{data.events:,} events: first verification round of {', '.join(waiting)} still running "
                     f"after {verified:.0f} s (--memory-wait); peak RSS read during it")
    for _ in range(r.sizes.memory_complaints):
        system.routed(system.submit()["tracking_code"], timeout=120)  # type: ignore[attr-defined]
    peaks = {n: peak_rss_mib(child.pid) for n, child in system.supervisor.children.items()}  # type: ignore[attr-defined]
    system.close()  # type: ignore[attr-defined]
    r.note(CASE, f"{data.events:,} events in the journal ({', '.join(f'{s} {n:,}' for s, n in data.heads.items())}): "
                 f"{'' if waiting else f'first verification rounds done in {verified:.0f} s; '}peak RSS "
                 + ", ".join(f"{n} {v:.0f} MiB" for n, v in peaks.items()))
    return peaks


def run(r: Run) -> None:
    small_size, big_size = r.sizes.memory_events
    small_data, big_data = dataset(r.cache, small_size), dataset(r.cache, big_size)
    # Both installations run at once (memory does not depend on the shared CPU; time does).
    small_system, big_system = start(r, small_data), start(r, big_data)
    small = measure(r, small_data, *small_system)
    big = measure(r, big_data, *big_system)
    for name in devserver.PROCESSES:
        r.add(Figure(CASE, f"peak RSS {name}, {big_data.events:,} events", big[name], "MiB", small[name],
                     f"same, {small_data.events:,} events", lower_is_better=True, target=TARGET))
