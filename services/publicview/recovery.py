"""Recovery by replay: rebuild publicview's projection from its journal; refill the journal from a copy of the log.

- ``rebuild`` drops the projection (complaints, search index, checkpoint) and
  folds it again from the journal in one pass, streaming: the journal is read
  ordered by complaint (correlation id), each complaint's events are put in
  causal order by the fold, and the documents are inserted in batches, all in
  one transaction (readers see the old projection until the new one is
  whole). The same journal gives the same projection, byte for byte.
- ``until`` rebuilds the view as it stood at a moment (a time, or a journal
  sequence number) and *pins* it there: later events are journaled but not
  projected until a rebuild without ``until``.
- ``refill`` journals events the journal lacks (by event id), each checked on
  its own (schema, hash, the owner's signature) first; a forged one is
  refused and reported, never journaled.
- ``from_sources`` reads every owner's log in pages over nameko RPC
  (``events_after``): the replay Job holds only publicview's credentials, and
  publicview's database role cannot reach an owner's database, so RPC through
  the broker is the one way that needs nothing more.

The pure parts (``parse_until``, ``Until``, ``cut``, ``groups``) are unit-tested.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kesah import config, database, verify
from kesah.contracts import ContractError, RecordedEvent, check_event, utc_now
from kesah.eventstore import event_to_row, row_to_event
from kesah.lifecycle import causal_order

from . import projections
from .store import (PG_TEXT_CONFIG, PINS, PROJECTION, PublicView, checkpoint, complaint_row, complaints,
                    index_complaint, journal, search_entry)

BATCH = 1000
CHUNK = 2000  # events a fold worker takes at a time
PARALLEL_FROM = 50_000  # a smaller journal folds faster in one process than it takes to start others
MAX_WORKERS = 4
MMAP_BYTES = 1 << 31  # SQLite caps it at its own maximum
RPC_PAGE = 1000
RPC_TIMEOUT_SECONDS = 30

Advance = Callable[[int, int], None]
"""Called with (done, total) as work advances; total 0 when unknown."""

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # as events' occurred_at: such strings sort as times


# --- until: the moment a view is rebuilt to (pure) ---------------------------------------

@dataclass(frozen=True)
class Until:
    """A moment: events that occurred at or before ``time``, or journaled at or before ``seq``."""

    time: str | None = None
    seq: int | None = None

    def admits(self, seq: int, event: RecordedEvent) -> bool:
        if self.seq is not None:
            return seq <= self.seq
        return self.time is None or event.occurred_at <= self.time

    def describe(self) -> str:
        return f"journal sequence {self.seq}" if self.seq is not None else f"time {self.time}"

    # Stored as a checkpoint row (name, integer): a time as microseconds since the epoch.
    def pin(self) -> tuple[str, int]:
        if self.seq is not None:
            return "until_seq", self.seq
        assert self.time is not None
        moment = dt.datetime.strptime(self.time, TIME_FORMAT).replace(tzinfo=dt.timezone.utc)
        return "until_time", (moment - EPOCH) // dt.timedelta(microseconds=1)

    @classmethod
    def from_pin(cls, name: str, value: int) -> "Until":
        if name == "until_seq":
            return cls(seq=int(value))
        return cls(time=(EPOCH + dt.timedelta(microseconds=int(value))).strftime(TIME_FORMAT))


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def parse_until(text: str | int | None) -> Until | None:
    """``--until``: a journal sequence number (digits) or an ISO 8601 time with its UTC offset.

    Raises ValueError with one sentence for the operator.
    """
    if text is None or isinstance(text, Until):
        return text
    if isinstance(text, int):
        if text < 0:
            raise ValueError("--until must be a journal position (0 or more) or a time")
        return Until(seq=text)
    value = text.strip()
    if value.isdigit():
        return Until(seq=int(value))
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--until {value!r} is neither a journal position nor an ISO 8601 time "
                         "(e.g. 2026-11-25T14:30:00+08:00)") from None
    if moment.tzinfo is None:
        raise ValueError(f"--until {value!r} needs its UTC offset (e.g. {value}+08:00 for WITA, or {value}Z)")
    return Until(time=moment.astimezone(dt.timezone.utc).strftime(TIME_FORMAT))


def cut(events: Sequence[tuple[int, RecordedEvent]], until: Until | None) -> list[RecordedEvent]:
    """One complaint's (seq, event) pairs as they stood at ``until``.

    An effect never outlives its cause: an event whose cause is left out is
    left out too, even when its own clock says it came earlier (clocks of
    different services may disagree).
    """
    if until is None:
        return [event for _, event in events]
    seqs = {event.event_id: seq for seq, event in events}
    dropped: set[str] = set()
    kept = []
    for event in causal_order(event for _, event in events):
        if event.causation_id in dropped or not until.admits(seqs[event.event_id], event):
            dropped.add(event.event_id)
        else:
            kept.append(event)
    return kept


def groups(rows: Iterable[tuple[int, RecordedEvent]]) -> Iterator[list[tuple[int, RecordedEvent]]]:
    """Consecutive rows of one complaint (rows ordered by correlation id) as one list each."""
    group: list[tuple[int, RecordedEvent]] = []
    current: str | None = None
    for seq, event in rows:
        if event.correlation_id != current and group:
            yield group
            group = []
        current = event.correlation_id
        group.append((seq, event))
    if group:
        yield group


# --- reading the journal by complaint -----------------------------------------------------

# What the fold reads of an event (kesah.lifecycle: order, identity, type, payload). The rebuild reads
# only these columns: the hashes and signatures are two thirds of a journal row, and verifying them
# is ``kesah verify``'s work, not the fold's. The other fields of the events it makes are left empty.
FOLDED_COLUMNS = ("position", "event_id", "source", "type", "version", "occurred_at", "causation_id",
                 "correlation_id", "payload")
NOT_READ = {"stream_id": "", "stream_version": 0, "prev_hash": "", "hash": "", "key_id": "", "signature": ""}


def by_code_points(column: Any, conn: Connection) -> Any:
    """Order by code points on every database, as Python compares strings."""
    return sa.collate(column, "C") if conn.dialect.name == "postgresql" else column


def raw_journal(conn: Connection, upto: int, code_points: bool = False) -> Iterator[Sequence[Any]]:
    """The journal's rows (seq, then the folded fields) up to ``upto``, ordered by complaint, streamed.

    ``code_points``: in Python's string order (a merge with another sorted stream needs it); otherwise
    in the index's order, which on PostgreSQL saves sorting the whole journal.

    Through the driver's own cursor (a server-side one on PostgreSQL): plain
    tuples, read a batch at a time, several times faster than SQLAlchemy's
    result objects on a million rows.
    """
    postgres = conn.dialect.name == "postgresql"
    order = 'correlation_id COLLATE "C"' if postgres and code_points else "correlation_id"
    sql = f"SELECT seq, {', '.join(FOLDED_COLUMNS)} FROM journal WHERE seq <= {int(upto)} ORDER BY {order}"
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor(name="kesah_journal_by_complaint") if postgres else dbapi.cursor()
    if postgres:
        cursor.itersize = BATCH
    try:
        cursor.execute(sql)
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield from rows
    finally:
        cursor.close()


def journal_by_complaint(conn: Connection, upto: int) -> Iterator[tuple[int, RecordedEvent]]:
    """(seq, event) of the journal up to ``upto``, by complaint in code-point order, streamed."""
    for row in raw_journal(conn, upto, code_points=True):
        yield _pair(row)


CORRELATION = 1 + FOLDED_COLUMNS.index("correlation_id")


def chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    """Rows ordered by complaint, cut into lists of about ``size`` that never split a complaint."""
    chunk: list[Sequence[Any]] = []
    for row in rows:
        if len(chunk) >= size and row[CORRELATION] != chunk[-1][CORRELATION]:
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def fold_chunk(work: tuple[list[Sequence[Any]], Until | None]) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Whole complaints' raw rows -> (events read, complaint rows, search entries). Pure: runs in worker processes."""
    rows, until = work
    documents_, entries = [], []
    for group in groups(_pair(row) for row in rows):
        doc = projections.complaint_view(cut(group, until))
        if doc is not None:
            documents_.append(complaint_row(doc))
            entry = search_entry(doc)
            if entry is not None:
                entries.append(entry)
    return len(rows), documents_, entries


def fold_all(work: Iterable[list[Sequence[Any]]], until: Until | None,
             workers: int) -> Iterator[tuple[int, list[dict[str, Any]], list[dict[str, Any]]]]:
    """``fold_chunk`` over every chunk, in order; across ``workers`` processes when more than one.

    The fold is pure CPU (JSON, the fold, canonical encoding); the reading and
    inserting stay in this process, in its transaction. A few chunks are in
    flight at a time, so memory stays bounded whatever the journal's size.
    """
    if workers <= 1:
        for chunk in work:
            yield fold_chunk((chunk, until))
        return
    import collections
    import multiprocessing

    # fork: the workers need no imports; they only fold and never touch the parent's connections.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        flight: collections.deque[Any] = collections.deque()
        for chunk in work:
            flight.append(pool.apply_async(fold_chunk, ((chunk, until),)))
            if len(flight) > 2 * workers:
                yield flight.popleft().get()
        while flight:
            yield flight.popleft().get()


def _pair(row: Sequence[Any]) -> tuple[int, RecordedEvent]:
    # The columns are exactly RecordedEvent's fields: fill the frozen instance directly,
    # without the dataclass __init__'s per-field cost (a third of a rebuild's time).
    event = object.__new__(RecordedEvent)
    fields = event.__dict__
    fields.update(NOT_READ)
    fields.update(zip(FOLDED_COLUMNS, row[1:]))
    fields["payload"] = json.loads(fields["payload"])
    fields["extra"] = {}
    return row[0], event


def documents(conn: Connection, upto: int, until: Until | None) -> Iterator[dict[str, Any]]:
    """The public document of every complaint the journal (seq <= upto) holds, as at ``until``."""
    for group in groups(journal_by_complaint(conn, upto)):
        doc = projections.complaint_view(cut(group, until))
        if doc is not None:
            yield doc


def project_at(conn: Connection, complaint_id: str, until: Until) -> None:
    """Project one complaint as it stood at ``until`` (the projection is pinned there)."""
    columns = [journal.c.seq] + [journal.c[name] for name in FOLDED_COLUMNS]
    rows = conn.execute(sa.select(*columns).where(journal.c.correlation_id == complaint_id)).all()
    doc = projections.complaint_view(cut([_pair(row) for row in rows], until))
    if doc is not None:
        conn.execute(complaints.insert().values(**complaint_row(doc)))
        index_complaint(conn, doc)


# --- the pin ----------------------------------------------------------------------------------

def pinned_at(conn: Connection) -> Until | None:
    row = conn.execute(sa.select(checkpoint.c.name, checkpoint.c.seq).where(checkpoint.c.name.in_(PINS))).first()
    return Until.from_pin(row.name, row.seq) if row else None


def projection_state(conn: Connection) -> tuple[int, Until | None]:
    """The projection's checkpoint and its pin (None: it follows the journal)."""
    seq = conn.execute(sa.select(checkpoint.c.seq).where(checkpoint.c.name == PROJECTION)).scalar()
    return int(seq or 0), pinned_at(conn)


# --- rebuild ------------------------------------------------------------------------------------

@dataclass
class RebuildReport:
    events: int = 0
    complaints: int = 0
    checkpoint: int = 0
    journal: int = 0
    until: Until | None = None
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        moment = f", pinned at {self.until.describe()}" if self.until else ""
        return (f"rebuilt {self.complaints} complaints from {self.events} journaled events in "
                f"{self.seconds:.1f}s ({self.rate:,.0f} events/s); checkpoint {self.checkpoint}{moment}")


def _clear(conn: Connection) -> None:
    conn.execute(complaints.delete())
    conn.execute(sa.text("DELETE FROM complaint_search"))
    conn.execute(checkpoint.delete().where(checkpoint.c.name.in_((PROJECTION,) + PINS)))


def fold_workers(events: int) -> int:
    """Processes that fold in parallel: one per core, for a journal big enough to repay starting them."""
    import os

    return min(os.cpu_count() or 1, MAX_WORKERS) if events >= PARALLEL_FROM else 1


def rebuild(view: PublicView, until: Until | str | int | None = None,
            progress: Advance | None = None) -> RebuildReport:
    """Drop the projection and fold it again from the journal; ``until`` pins it at a moment.

    One transaction holding the journal's write lock: live handlers wait
    (they retry if it takes long), readers see the old projection until the
    commit. Safe to re-run.
    """
    moment = parse_until(until)
    report = RebuildReport(until=moment)
    started = time.monotonic()
    with database.writing(view.engine) as conn:
        database.write_lock(conn, "journal")  # as receive takes it: nothing is projected meanwhile
        if conn.dialect.name == "sqlite":
            # Read the journal's pages through a memory map (the OS page cache): reading it in complaint
            # order jumps around the file, and through SQLite's small page cache that costs a third more.
            conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
        head = view._journal_head(conn)
        # The whole journal is read even for a past moment: ``cut`` needs to see what it leaves out.
        upto = head
        report.journal, report.checkpoint = head, upto
        if progress is not None:
            progress(0, head)
        _clear(conn)

        workers = fold_workers(head)
        for events, rows, entries in fold_all(chunks(raw_journal(conn, upto), CHUNK), moment, workers):
            report.events += events
            report.complaints += _insert(conn, rows, entries)
            if progress is not None:
                progress(report.events, head)
        conn.execute(checkpoint.insert().values(name=PROJECTION, seq=upto))
        if moment is not None:
            name, value = moment.pin()
            conn.execute(checkpoint.insert().values(name=name, seq=value))
    if progress is not None:
        progress(report.events, head)
    report.seconds = time.monotonic() - started
    return report


COMPLAINT_COLUMNS = tuple(c.name for c in complaints.c)
SQLITE_INSERT_COMPLAINTS = (f"INSERT INTO complaints ({', '.join(COMPLAINT_COLUMNS)}) "
                            f"VALUES ({', '.join('?' for _ in COMPLAINT_COLUMNS)})")
SQLITE_INSERT_SEARCH = "INSERT INTO complaint_search (rowid, complaint_id, text) VALUES (?, ?, ?)"


def _insert(conn: Connection, rows: list[dict[str, Any]], entries: list[dict[str, Any]]) -> int:
    """Insert complaint rows and their search entries through the driver: many rows a statement.

    SQLAlchemy's per-row parameter processing costs more than the insert on
    SQLite; on PostgreSQL a text statement's executemany is one round trip per row.
    """
    if not rows:
        return 0
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    values = [tuple(r[c] for c in COMPLAINT_COLUMNS) for r in rows]
    try:
        if conn.dialect.name == "sqlite":
            cursor.executemany(SQLITE_INSERT_COMPLAINTS, values)
            cursor.executemany(SQLITE_INSERT_SEARCH, [(e["rowid"], e["id"], e["text"]) for e in entries])
        else:
            from psycopg2.extras import execute_values

            execute_values(cursor, f"INSERT INTO complaints ({', '.join(COMPLAINT_COLUMNS)}) VALUES %s", values,
                           page_size=BATCH)
            if entries:
                execute_values(cursor, "INSERT INTO complaint_search (complaint_id, tsv) VALUES %s",
                               [(e["id"], e["text"]) for e in entries],
                               template=f"(%s, to_tsvector('{PG_TEXT_CONFIG}', %s))", page_size=BATCH)
    finally:
        cursor.close()
    return len(rows)


# --- refill --------------------------------------------------------------------------------------

@dataclass
class Refusal:
    source: str
    position: int
    event_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source} position {self.position} (event {self.event_id}): {self.reason}"


class RefillRefused(Exception):
    """Some offered events were forged or conflict with the journal; the rest were journaled."""

    def __init__(self, journaled: int, refused: list[Refusal]) -> None:
        super().__init__(f"{len(refused)} event(s) refused, first {refused[0]}; {journaled} journaled")
        self.journaled, self.refused = journaled, refused


def refill(view: PublicView, events: Iterable[RecordedEvent], progress: Advance | None = None, *,
           refused: list[Refusal] | None = None, project: bool = False) -> int:
    """Journal the events the journal does not hold yet; returns how many were journaled.

    Each is checked on its own first (owner, schema, hash, signature with the
    keyring); a forged one, or one that claims a source position the journal
    holds with another event, is refused: collected in ``refused`` when given,
    else raised (``RefillRefused``) once the good ones are journaled.
    ``project``: also project the complaints touched (a running service's
    catch-up); otherwise the caller rebuilds.
    """
    if view.keyring is None:
        raise RuntimeError("refill needs the owners' public keys to check signatures")
    problems: list[Refusal] = [] if refused is None else refused
    journaled = seen = 0
    batch: list[RecordedEvent] = []
    for event in events:
        seen += 1
        try:
            check_event(event, view.keyring)
        except ContractError as exc:
            problems.append(Refusal(event.source, event.position, event.event_id, str(exc)))
            continue
        batch.append(event)
        if len(batch) >= BATCH:
            journaled += _journal_batch(view, batch, problems, project)
            batch = []
            if progress is not None:
                progress(seen, 0)
    journaled += _journal_batch(view, batch, problems, project)
    if progress is not None:
        progress(seen, 0)
    if refused is None and problems:
        raise RefillRefused(journaled, problems)
    return journaled


def _journal_batch(view: PublicView, batch: list[RecordedEvent], problems: list[Refusal], project: bool) -> int:
    if not batch:
        return 0
    assert view.keyring is not None
    with database.writing(view.engine) as conn:
        database.write_lock(conn, "journal")
        ids = [e.event_id for e in batch]
        held = set(conn.execute(sa.select(journal.c.event_id).where(journal.c.event_id.in_(ids))).scalars())
        # The journal's events around the new ones: each new event must fit the chain it holds (as receive checks).
        around: dict[tuple[str, int], RecordedEvent] = {}
        for source in sorted({e.source for e in batch if e.event_id not in held}):
            positions = sorted({e.position + d for e in batch if e.source == source for d in (-1, 0, 1)})
            for start in range(0, len(positions), BATCH):
                rows = conn.execute(sa.select(journal).where(
                    journal.c.source == source, journal.c.position.in_(positions[start:start + BATCH])))
                around.update(((r.source, r.position), row_to_event(r)) for r in rows)
        seq = view._journal_head(conn)
        rows_: list[dict[str, Any]] = []
        touched: set[str] = set()
        now = utc_now()
        for event in batch:
            if event.event_id in held:
                continue
            neighbours = [around[k] for d in (-1, 0, 1) if (k := (event.source, event.position + d)) in around]
            problem = verify.link_problem(event, neighbours, view.keyring)
            if problem is not None:
                problems.append(Refusal(event.source, event.position, event.event_id, problem))
                continue
            held.add(event.event_id)
            around[(event.source, event.position)] = event
            seq += 1
            rows_.append({"seq": seq, "received_at": now, **event_to_row(event)})
            touched.add(event.correlation_id)
        if rows_:
            conn.execute(journal.insert(), rows_)
            if project and not view.pinned(conn):
                for correlation_id in sorted(touched):
                    view._project(conn, correlation_id)
                view._set_checkpoint(conn, seq)
        return len(rows_)


# --- the owners' logs over RPC ----------------------------------------------------------------

class SourcesUnavailable(Exception):
    """An owner did not answer over RPC (broker or service down)."""


@dataclass
class Sources:
    """The owners' logs, read in pages over nameko RPC (``kesah.sourcelog``).

    ``call(source, method, **kwargs)`` does one RPC; by default a standalone
    proxy from the settings (a command); a running service passes its own
    RpcProxy dependencies.
    """

    call: Callable[..., Any]
    heads: dict[str, int] = field(default_factory=dict)

    @classmethod
    def over_rpc(cls, settings: config.Settings) -> "Sources":
        nameko_config = settings.nameko_config()

        def call(source: str, method: str, **kwargs: Any) -> Any:
            from nameko.standalone.rpc import ServiceRpcProxy

            try:
                with ServiceRpcProxy(source, nameko_config, timeout=RPC_TIMEOUT_SECONDS) as proxy:
                    return getattr(proxy, method)(**kwargs)
            except Exception as exc:  # timeouts, connection errors, remote errors: the owner cannot serve now
                raise SourcesUnavailable(f"{source} did not answer over RPC ({exc.__class__.__name__}: {exc})") \
                    from exc

        return cls(call)

    def head(self, source: str) -> dict[str, Any]:
        head = self.call(source, "head")
        self.heads[source] = int(head["position"])
        return head

    def events(self, source: str, after: int = 0) -> Iterator[RecordedEvent]:
        """The source's events after a position, a page at a time, up to its head when asked."""
        while True:
            page = self.call(source, "events_after", position=after, limit=RPC_PAGE)
            for body in page:
                yield RecordedEvent.from_message(body)
            if len(page) < RPC_PAGE:
                return
            after = int(page[-1]["position"])


def from_sources(settings: config.Settings, after: dict[str, int] | None = None,
                 sources: Sources | None = None) -> Iterator[RecordedEvent]:
    """Every owner's log (after the given positions), owner by owner, in position order."""
    sources = sources or Sources.over_rpc(settings)
    for source in config.OWNERS:
        yield from sources.events(source, (after or {}).get(source, 0))


def contiguous(view: PublicView) -> dict[str, int]:
    """Per source, the position up to which the journal holds every event (what need not be asked again)."""
    with database.reading(view.engine) as conn:
        rows = conn.execute(sa.select(journal.c.source, sa.func.count(), sa.func.max(journal.c.position))
                            .group_by(journal.c.source)).all()
    return {source: int(highest) if int(count) == int(highest) else 0 for source, count, highest in rows}
