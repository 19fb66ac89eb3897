"""Verifying publicview's copy: the journal per source, and the projection against its journal.

The journal holds every owner's events verbatim, so each source's events in
it must form that source's chain: contiguous positions from 1, linked
hashes, the owner's signatures (``kesah.verify.check_log``, the same checks
as the owners' own stores).

Events of one source may commit out of order for a moment (several
handlers run at once), so a hole is a deletion only when the journal's own
sequence has a gap too, or when the event after the hole arrived more than
``grace`` seconds ago; otherwise it is an event in flight.

The projection is compared with what a rebuild from the journal would give
at the projection's checkpoint: complaint by complaint (streaming, in
complaint id order), with a checksum over each side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kesah import config, database, signing, verify
from kesah.contracts import RecordedEvent
from kesah.eventstore import Head, row_to_event
from kesah.signing import Keyring

from . import recovery
from .store import PublicView, complaint_row, complaints, journal

PAGE = 1000

JOURNAL_REMEDY = ("publicview refills events missing from its journal from the owners by itself "
                  "(KESAH_SELF_HEAL=on); a changed or inserted row stays, as the journal only grows: move "
                  "publicview's database aside and run 'kesah replay publicview --from sources'.")
PROJECTION_REMEDY = ("publicview rebuilds its projection by itself (KESAH_SELF_HEAL=on); "
                     "by hand: 'kesah rebuild publicview'.")


def read_source(view: PublicView, source: str, after: int = 0) -> Iterator[RecordedEvent]:
    """A source's events in the journal, in position order, a page at a time."""
    while True:
        with database.reading(view.engine) as conn:
            rows = conn.execute(
                sa.select(journal).where(journal.c.source == source, journal.c.position > after)
                .order_by(journal.c.position).limit(PAGE)
            ).all()
        for row in rows:
            yield row_to_event(row)
        if len(rows) < PAGE:
            return
        after = rows[-1].position


def journal_event(view: PublicView, source: str, position: int) -> RecordedEvent | None:
    with database.reading(view.engine) as conn:
        row = conn.execute(
            sa.select(journal).where(journal.c.source == source, journal.c.position == position)
        ).first()
    return row_to_event(row) if row else None


def journal_successors(view: PublicView, source: str) -> verify.Successors:
    def successors(prev_hash: str) -> list[RecordedEvent]:
        with database.reading(view.engine) as conn:
            rows = conn.execute(
                sa.select(journal).where(journal.c.source == source, journal.c.prev_hash == prev_hash)
            ).all()
        return [row_to_event(r) for r in rows]

    return successors


def sequence_gap(view: PublicView) -> int | None:
    """The first missing journal sequence number (a journaled event was deleted), or None."""
    with database.reading(view.engine) as conn:
        count, top = conn.execute(sa.select(sa.func.count(), sa.func.max(journal.c.seq))).one()
        if not top or count == top:
            return None
        after = 0
        while True:
            seqs = conn.execute(
                sa.select(journal.c.seq).where(journal.c.seq > after).order_by(journal.c.seq).limit(PAGE)
            ).scalars().all()
            for seq in seqs:
                if seq != after + 1:
                    return after + 1
                after = seq
            if not seqs:
                return None


def _received_seconds_ago(view: PublicView, source: str, after_position: int) -> float | None:
    with database.reading(view.engine) as conn:
        received = conn.execute(
            sa.select(journal.c.received_at).where(journal.c.source == source, journal.c.position > after_position)
            .order_by(journal.c.position).limit(1)
        ).scalar()
    if received is None:
        return None
    moment = dt.datetime.fromisoformat(received.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()


def verify_journal(
    view: PublicView,
    keyring: Keyring,
    *,
    grace: float = 10.0,
    anchors: dict[str, verify.Anchor] | None = None,
    expect: dict[str, Head] | None = None,
    pause: Callable[[], None] | None = None,
) -> list[verify.LogReport]:
    """One report per owner: its events in the journal as a chain."""
    gap = sequence_gap(view)
    reports = []
    for source in config.OWNERS:
        def check(anchor: verify.Anchor | None) -> verify.LogReport:
            return verify.check_log(
                read_source(view, source), source, keyring, name=f"publicview journal ({source})",
                successors=journal_successors(view, source), anchor=anchor,
                expect=(expect or {}).get(source), pause=pause,
            )

        report = verify.recheck(check, (anchors or {}).get(source))
        problem = report.problem
        if (problem is not None and problem.kind == verify.MISSING and gap is None
                and journal_event(view, source, problem.position) is None):
            waited = _received_seconds_ago(view, source, problem.position - 1)
            if waited is not None and waited < grace:
                # In flight: what follows the hole came just now; check again next round.
                report.problem = None
                report.anchor = None
        reports.append(report)
    return reports


# --- the projection against its journal ---------------------------------------------------

@dataclass
class ProjectionReport:
    name: str = "publicview projection"
    checkpoint: int = 0
    complaints: int = 0
    expected_checksum: str = ""
    actual_checksum: str = ""
    differences: list[dict[str, Any]] = field(default_factory=list)
    # Complaints whose journaled events do not verify (the journal changed under the comparison):
    # the journal's check names that; the projection is neither blamed nor healed from it.
    unverifiable: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differences and (self.expected_checksum == self.actual_checksum or bool(self.unverifiable))

    def summary(self) -> str:
        head = (f"{self.name}: checkpoint {self.checkpoint}, {self.complaints} complaints, "
                f"checksum {self.actual_checksum[:16]}")
        if self.ok:
            return f"{head}: ok (equals a rebuild from the journal)"
        first = self.differences[0]
        return (f"{self.name}: FAILED at checkpoint {self.checkpoint}: projection checksum "
                f"{self.actual_checksum[:16]}, rebuild from the journal {self.expected_checksum[:16]}; "
                f"{len(self.differences)} complaint(s) differ, first {first['tracking_code']} ({first['what']})")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "checkpoint": self.checkpoint, "complaints": self.complaints,
                "projection_checksum": self.actual_checksum, "rebuild_checksum": self.expected_checksum,
                "differences": self.differences[:20], "seconds": round(self.seconds, 3)}


def _rebuilt(conn: Connection, upto: int, pin: "recovery.Until | None") -> Iterator[dict[str, Any]]:
    """The projection's rows as a rebuild from the journal (seq <= upto, as at the pin) gives them, by complaint id."""
    for doc in recovery.documents(conn, upto, pin):
        yield complaint_row(doc)


def _stored(conn: Connection) -> Iterator[dict[str, Any]]:
    rows = conn.execution_options(stream_results=True, yield_per=PAGE).execute(
        sa.select(complaints).order_by(recovery.by_code_points(complaints.c.complaint_id, conn))
    )
    for row in rows:
        yield dict(row._mapping)


def _what_differs(expected: dict[str, Any] | None, actual: dict[str, Any] | None) -> dict[str, Any]:
    if expected is None:
        assert actual is not None
        return {"complaint_id": actual["complaint_id"], "tracking_code": actual["tracking_code"],
                "what": "in the projection, not in the journal"}
    if actual is None:
        return {"complaint_id": expected["complaint_id"], "tracking_code": expected["tracking_code"],
                "what": "in the journal, missing from the projection"}
    columns = [name for name in expected if expected[name] != actual.get(name)]
    return {"complaint_id": expected["complaint_id"], "tracking_code": expected["tracking_code"],
            "what": "differs in " + ", ".join(columns)}


def verify_projection(view: PublicView, pause: Callable[[], None] | None = None) -> ProjectionReport:
    """Compare the complaints projection with a rebuild from the journal at its checkpoint."""
    import time

    started = time.monotonic()
    report = ProjectionReport()
    expected_sum, actual_sum = hashlib.sha256(), hashlib.sha256()
    with view.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():  # one snapshot: the projection and the journal as of the same commit
            report.checkpoint, pin = recovery.projection_state(conn)
            rebuilt, stored = _rebuilt(conn, report.checkpoint, pin), _stored(conn)
            want, have = next(rebuilt, None), next(stored, None)
            while want is not None or have is not None:
                if have is not None and (want is None or have["complaint_id"] < want["complaint_id"]):
                    report.differences.append(_what_differs(None, have))
                    actual_sum.update(signing.canonical(have))
                    have = next(stored, None)
                    continue
                assert want is not None
                if have is None or want["complaint_id"] < have["complaint_id"]:
                    report.differences.append(_what_differs(want, None))
                    expected_sum.update(signing.canonical(want))
                    want = next(rebuilt, None)
                    continue
                # Only what a rebuild writes is compared: other columns may be filled by others.
                have = {name: have.get(name) for name in want}
                if want != have:
                    report.differences.append(_what_differs(want, have))
                expected_sum.update(signing.canonical(want))
                actual_sum.update(signing.canonical(have))
                report.complaints += 1
                want, have = next(rebuilt, None), next(stored, None)
                if pause is not None and report.complaints % 200 == 0:
                    pause()
    report.expected_checksum, report.actual_checksum = expected_sum.hexdigest(), actual_sum.hexdigest()
    if report.differences and view.keyring is not None:
        with view.engine.connect() as conn:
            for difference in list(report.differences):
                if damaged_events(view._events_of(conn, difference["complaint_id"]), view.keyring):
                    report.differences.remove(difference)
                    report.unverifiable.append(difference)
    report.seconds = time.monotonic() - started
    return report


def damaged_events(events: list[RecordedEvent], keyring: Keyring) -> list[str]:
    """Why each of these journaled events does not verify on its own (hash, signature, owner, schema)."""
    from kesah.contracts import ContractError, check_event

    problems = []
    for event in events:
        try:
            check_event(event, keyring)
        except ContractError as exc:
            problems.append(f"{event.source} position {event.position}: {exc}")
    return problems


def heal_projection(view: PublicView, report: ProjectionReport) -> int:
    """Project again every complaint that differs from its journal; returns how many."""
    from .store import journal as journal_table

    healed = 0
    with database.writing(view.engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE journal IN EXCLUSIVE MODE")  # as receive does: no stale overwrite
        pin = recovery.pinned_at(conn)
        for difference in report.differences:
            complaint_id = difference["complaint_id"]
            has_events = conn.execute(
                sa.select(journal_table.c.seq).where(journal_table.c.correlation_id == complaint_id).limit(1)
            ).first()
            if has_events is not None and view.keyring is not None and \
                    damaged_events(view._events_of(conn, complaint_id), view.keyring):
                continue  # never project from a damaged journal: the journal is repaired first
            conn.execute(complaints.delete().where(complaints.c.complaint_id == complaint_id))
            if has_events is not None:
                if pin is None:
                    view._project(conn, complaint_id)
                else:  # the view shows a past moment: this complaint as it stood then
                    recovery.project_at(conn, complaint_id, pin)
            healed += 1
    return healed
