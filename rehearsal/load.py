"""A steady load of complaints, and the count of what became of them.

The load never retries: a submission either got its 201 (accepted: the
system promised the citizen it has the complaint) or it did not. Whatever
the fault did, every accepted complaint must end up on the public site
exactly once; ``tally`` checks that against the owners' own logs.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .report import Outcome

if TYPE_CHECKING:
    from tests.support.system import System

COMPLAINT = {
    "kind": "keluhan",
    "body": "Lampu jalan mati sejak tiga hari, mohon segera diperbaiki.",
    "kelurahan": "Bontang Baru",
    "address": "Jl. Awang Long",
}


@dataclass
class Attempt:
    started: float
    finished: float
    status: int  # 0: no answer (connection refused, reset, timed out)
    code: str | None


@dataclass
class Load:
    """``workers`` citizens, each submitting one complaint every ``interval`` seconds, until stopped."""

    base_url: str
    workers: int = 4
    interval: float = 0.1
    timeout: float = 30.0
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0

    def start(self) -> "Load":
        self.started = time.monotonic()
        self.started_at = time.time()
        for i in range(self.workers):
            thread = threading.Thread(target=self._citizen, name=f"citizen-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> "Load":
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.stopped = time.monotonic()
        self.stopped_at = time.time()
        return self

    def _citizen(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            while not self._stop.is_set():
                with self._lock:
                    self._sequence += 1
                    n = self._sequence
                started = time.monotonic()
                status, code = 0, None
                try:
                    response = http.post("/api/complaints", json={**COMPLAINT, "title": f"Latihan gangguan nomor {n}"})
                    status = response.status_code
                    if status == 201:
                        code = response.json()["tracking_code"]
                except httpx.HTTPError:
                    pass
                finished = time.monotonic()
                with self._lock:
                    self.attempts.append(Attempt(started, finished, status, code))
                self._stop.wait(max(0.0, self.interval - (finished - started)))

    @property
    def accepted(self) -> list[str]:
        return [a.code for a in self.attempts if a.code]

    def stall_seconds(self) -> float:
        """The longest stretch of the load in which no submission was accepted."""
        marks = [self.started] + sorted(a.finished for a in self.attempts if a.code) + [self.stopped]
        return max(b - a for a, b in zip(marks, marks[1:]))

    def wait_for(self, accepted: int, timeout: float = 60.0) -> None:
        """Let the load run until ``accepted`` more complaints were accepted (a drill's "during load")."""
        goal = len(self.accepted) + accepted
        deadline = time.monotonic() + timeout
        while len(self.accepted) < goal and time.monotonic() < deadline:
            time.sleep(0.05)


def visible_codes(system: "System", codes: list[str], settle: float = 90.0) -> set[str]:
    """The accepted complaints the public site shows, waiting for the stragglers until none came for ``settle`` s.

    The site's open data (``/data/aduan.json``: every public complaint) answers for
    thousands at once; the few it does not list are asked one by one (``/api/complaints/{code}``).
    """
    wanted = set(codes)
    seen: set[str] = set()
    deadline = time.monotonic() + settle
    while True:
        before = len(seen)
        seen |= _published(system) & wanted
        for code in sorted(wanted - seen)[:50]:
            try:
                if system.http.get(f"/api/complaints/{code}").status_code == 200:
                    seen.add(code)
            except httpx.HTTPError:
                pass
        if len(seen) > before:
            # Still catching up (a backlog on a busy machine is no loss): the wait starts again.
            deadline = time.monotonic() + settle
        if seen == wanted or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def _published(system: "System") -> set[str]:
    try:
        response = system.http.get("/data/aduan.json", timeout=120)
    except httpx.HTTPError:
        return set()
    if response.status_code != 200:
        return set()
    try:
        return {doc["tracking_code"] for doc in response.json()}  # one JSON array
    except (ValueError, KeyError, TypeError):
        return set()


def duplicated_effects(system: "System", codes: list[str]) -> int:
    """Effects that happened more than once, read from the owners' logs and publicview's journal."""
    wanted = set(codes)
    submitted = collections.Counter(
        e.payload["tracking_code"] for e in system.events("intake", ["ComplaintSubmitted"])
        if e.payload.get("tracking_code") in wanted
    )
    routed = collections.Counter(
        e.payload["tracking_code"] for e in system.events("routing", ["ComplaintRouted", "ComplaintAwaitingRouting"])
        if e.payload.get("tracking_code") in wanted
    )
    journaled = collections.Counter(journaled_event_ids(system))
    return sum(n - 1 for counter in (submitted, routed, journaled) for n in counter.values() if n > 1)


def journaled_event_ids(system: "System") -> list[str]:
    """Every event id in publicview's journal, one per row (publicview is no owner: no events table)."""
    import sqlalchemy as sa

    from kesah import database
    from services.publicview.store import journal

    engine = database.create_engine(system.settings.database_url("publicview"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(journal.c.event_id)).scalars())
    finally:
        engine.dispose()


def publication_stall(system: "System", load: Load) -> float:
    """The longest stretch of the load in which publicview journaled no event (the public site stood still)."""
    import datetime as dt

    import sqlalchemy as sa

    from kesah import database
    from services.publicview.store import journal

    engine = database.create_engine(system.settings.database_url("publicview"))
    try:
        with engine.connect() as conn:
            received = conn.execute(sa.select(journal.c.received_at)).scalars().all()
    finally:
        engine.dispose()
    moments = sorted(t for t in (dt.datetime.fromisoformat(r.replace("Z", "+00:00")).timestamp() for r in received)
                     if load.started_at <= t <= load.stopped_at)
    marks = [load.started_at] + moments + [load.stopped_at]
    return max(b - a for a, b in zip(marks, marks[1:]))


def tally(fault: str, system: "System", load: Load, settle: float = 90.0, note: str = "") -> Outcome:
    accepted = load.accepted
    visible = visible_codes(system, accepted, settle)
    return Outcome(
        fault=fault,
        accepted=len(accepted),
        visible=len(visible),
        lost=len(set(accepted) - visible),
        duplicated=duplicated_effects(system, accepted),
        stall_seconds=round(load.stall_seconds(), 1),
        note=note,
    )


def summary(load: Load) -> dict[str, Any]:
    statuses = collections.Counter(a.status for a in load.attempts)
    return {"attempts": len(load.attempts), "statuses": dict(statuses)}
