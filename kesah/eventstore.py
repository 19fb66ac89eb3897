"""The event store: one append-only, hash-chained, signed log per owning service.

One API over SQLAlchemy, the same on SQLite and PostgreSQL:

- ``append`` gives events gap-free positions under the store's write lock,
  checks each stream's expected version, chains and signs them, and writes
  an outbox row for each in the same transaction;
- ``read`` streams events in position order, in pages, never the whole log;
- ``pending``/``mark_published`` are the outbox the relay drains;
- ``handled``/``record_handled`` are the tracking rows that make consumers
  idempotent: commit them in the transaction that makes the state change.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from . import contracts, database, signing
from .contracts import NewEvent, RecordedEvent


def event_columns() -> list[sa.Column]:
    """The columns of a stored event; shared with publicview's journal."""
    return [
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=False),
        sa.Column("causation_id", sa.String(36)),
        sa.Column("correlation_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
    ]


metadata = sa.MetaData()

# The app's role may only read and append: no UPDATE, DELETE or TRUNCATE
# (kesah.schema.grant), and a trigger refuses them even to the table's owner
# (migration eventstore 0002).
events = sa.Table(
    "events",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    *event_columns(),
    sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    info={"privileges": ("SELECT", "INSERT")},
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
)

handled = sa.Table(
    "handled",
    metadata,
    sa.Column("consumer", sa.String(80), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
)


class ConcurrencyError(Exception):
    """The stream moved on since the writer read it: reload and decide again."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id} is at version {actual}, expected {expected}")
        self.stream_id, self.expected, self.actual = stream_id, expected, actual


class DuplicateEventError(Exception):
    """An event with this id is already stored."""


class RestoreError(Exception):
    """Events offered for restore do not continue this store's log."""


@dataclass(frozen=True)
class Head:
    position: int
    hash: str


GENESIS = Head(0, signing.GENESIS_HASH)


def row_to_event(row: Any) -> RecordedEvent:
    m = row._mapping
    return RecordedEvent(
        position=m["position"],
        event_id=m["event_id"],
        source=m["source"],
        type=m["type"],
        version=m["version"],
        stream_id=m["stream_id"],
        stream_version=m["stream_version"],
        occurred_at=m["occurred_at"],
        causation_id=m["causation_id"],
        correlation_id=m["correlation_id"],
        payload=json.loads(m["payload"]),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
        key_id=m["key_id"],
        signature=m["signature"],
    )


def event_to_row(event: RecordedEvent) -> dict[str, Any]:
    row = event.to_message()
    row["payload"] = signing.canonical(event.payload).decode("utf-8")
    return row


class EventStore:
    """The log of one owning service (``source``), signed with its key."""

    def __init__(self, engine: Engine, source: str, signer: signing.Signer | None = None) -> None:
        self.engine = engine
        self.source = source
        self.signer = signer

    @classmethod
    def from_url(cls, url: str, source: str, signer: signing.Signer | None = None) -> "EventStore":
        return cls(database.create_engine(url), source, signer)

    def create_schema(self) -> None:
        """Migrate this store's database to head: what ``kesah migrate <source>`` does."""
        from . import schema

        schema.upgrade(self.engine, schema.DATABASES.get(self.source, ("eventstore",)))

    # --- writing ----------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the store's write lock from its start; pass it to ``append``.

        A writer reads the state it decides on (a case, a rule) and appends
        in one transaction; holding the lock from the start means no other
        writer of this store changes that state in between.
        """
        with database.writing(self.engine) as conn:
            self.lock(conn)
            yield conn

    def lock(self, conn: Connection) -> None:
        """Take the store's write lock now (SQLite holds it from the start of a write)."""
        # Readers stay free; every other appender waits until this one commits.
        database.write_lock(conn, "events")

    def head(self, conn: Connection | None = None) -> Head:
        query = sa.select(events.c.position, events.c.hash).order_by(events.c.position.desc()).limit(1)
        if conn is None:
            with database.reading(self.engine) as conn:
                row = conn.execute(query).first()
        else:
            row = conn.execute(query).first()
        return Head(row.position, row.hash) if row else GENESIS

    def stream_version(self, conn: Connection, stream_id: str) -> int:
        value = conn.execute(
            sa.select(sa.func.max(events.c.stream_version)).where(events.c.stream_id == stream_id)
        ).scalar()
        return int(value or 0)

    def append(
        self,
        conn: Connection,
        new_events: Sequence[NewEvent],
        expected_version: int | None = None,
    ) -> list[RecordedEvent]:
        """Append in the caller's write transaction.

        ``expected_version`` (when given, all events share one stream): the
        stream's version the writer decided on; 0 means a new stream.
        """
        if not new_events:
            return []
        if self.signer is None:
            raise RuntimeError(f"store {self.source} has no signing key: it cannot append")
        self.lock(conn)
        head = self.head(conn)
        versions: dict[str, int] = {}
        if expected_version is not None:
            streams = {e.stream_id for e in new_events}
            if len(streams) != 1:
                raise ValueError("expected_version applies to events of one stream")
            (stream_id,) = streams
            actual = self.stream_version(conn, stream_id)
            if actual != expected_version:
                raise ConcurrencyError(stream_id, expected_version, actual)
            versions[stream_id] = actual
        recorded: list[RecordedEvent] = []
        position, prev_hash = head.position, head.hash
        for new in new_events:
            version = new.resolved_version()
            contracts.validate_payload(new.type, version, new.payload)
            if new.stream_id not in versions:
                versions[new.stream_id] = self.stream_version(conn, new.stream_id)
            versions[new.stream_id] += 1
            position += 1
            unsigned = RecordedEvent(
                position=position,
                event_id=new.event_id,
                source=self.source,
                type=new.type,
                version=version,
                stream_id=new.stream_id,
                stream_version=versions[new.stream_id],
                occurred_at=new.occurred_at,
                causation_id=new.causation_id,
                correlation_id=new.correlation_id,
                payload=new.payload,
                prev_hash=prev_hash,
                hash="",
                key_id=self.signer.key_id,
                signature="",
            )
            digest = unsigned.computed_hash()
            event = RecordedEvent(
                **{**unsigned.to_message(), "hash": digest, "signature": self.signer.sign(digest)}
            )
            recorded.append(event)
            prev_hash = digest
        try:
            conn.execute(events.insert(), [event_to_row(e) for e in recorded])
        except IntegrityError as exc:
            message = str(exc.orig)
            if "event_id" in message:
                raise DuplicateEventError(message) from None
            raise ConcurrencyError(recorded[0].stream_id, expected_version or -1, -1) from None
        conn.execute(outbox.insert(), [{"position": e.position} for e in recorded])
        return recorded

    def restore(self, recorded: Iterable[RecordedEvent], *, publish: bool = False) -> int:
        """Insert events verbatim (ids, positions, hashes, signatures kept).

        They must continue this store's log: contiguous positions and an
        unbroken chain from the current head. Safe to re-run: events already
        present (same position, same hash) are skipped. Returns how many were
        inserted.
        """
        inserted = 0
        batch: list[RecordedEvent] = []

        def flush(conn: Connection) -> None:
            nonlocal inserted
            if batch:
                conn.execute(events.insert(), [event_to_row(e) for e in batch])
                if publish:
                    conn.execute(outbox.insert(), [{"position": e.position} for e in batch])
                inserted += len(batch)
                batch.clear()

        with self.write() as conn:
            self.lock(conn)
            head = self.head(conn)
            for event in recorded:
                if event.source != self.source:
                    raise RestoreError(f"event {event.event_id} belongs to {event.source}, not {self.source}")
                if event.computed_hash() != event.hash:
                    raise RestoreError(f"event at position {event.position} does not match its hash")
                if event.position <= head.position:
                    existing = conn.execute(
                        sa.select(events.c.hash).where(events.c.position == event.position)
                    ).scalar()
                    if existing != event.hash:
                        raise RestoreError(f"position {event.position} differs from the stored event")
                    continue
                if event.position != head.position + 1 or event.prev_hash != head.hash:
                    raise RestoreError(
                        f"event at position {event.position} does not continue the log at {head.position}"
                    )
                batch.append(event)
                head = Head(event.position, event.hash)
                if len(batch) >= 1000:
                    flush(conn)
            flush(conn)
        return inserted

    # --- reading ----------------------------------------------------------

    def read(self, after: int = 0, limit: int | None = None, page: int = 1000) -> Iterator[RecordedEvent]:
        """Events after a position, in order, fetched a page at a time."""
        remaining = limit
        while remaining is None or remaining > 0:
            size = page if remaining is None else min(page, remaining)
            with database.reading(self.engine) as conn:
                rows = conn.execute(
                    sa.select(events).where(events.c.position > after).order_by(events.c.position).limit(size)
                ).all()
            for row in rows:
                yield row_to_event(row)
            if len(rows) < size:
                return
            after = rows[-1].position
            if remaining is not None:
                remaining -= len(rows)

    def events_after(self, after: int, limit: int) -> list[RecordedEvent]:
        return list(self.read(after, limit=limit, page=limit))

    def read_stream(self, stream_id: str, conn: Connection | None = None) -> list[RecordedEvent]:
        query = sa.select(events).where(events.c.stream_id == stream_id).order_by(events.c.position)
        if conn is not None:
            return [row_to_event(r) for r in conn.execute(query)]
        with database.reading(self.engine) as c:
            return [row_to_event(r) for r in c.execute(query)]

    def count(self) -> int:
        with database.reading(self.engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() or 0)

    # --- outbox -----------------------------------------------------------

    def pending(self, limit: int) -> list[RecordedEvent]:
        """The oldest events not yet confirmed by the broker."""
        with database.reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(events)
                .join(outbox, outbox.c.position == events.c.position)
                .order_by(events.c.position)
                .limit(limit)
            ).all()
        return [row_to_event(r) for r in rows]

    def mark_published(self, positions: Sequence[int]) -> None:
        if not positions:
            return
        with database.writing(self.engine) as conn:
            conn.execute(outbox.delete().where(outbox.c.position.in_(list(positions))))

    def outbox_size(self) -> int:
        with database.reading(self.engine) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() or 0)

    # --- tracking (idempotent consumers) ------------------------------------

    def handled(self, conn: Connection, consumer: str, event_id: str) -> bool:
        return (
            conn.execute(
                sa.select(handled.c.event_id).where(handled.c.consumer == consumer, handled.c.event_id == event_id)
            ).first()
            is not None
        )

    def record_handled(self, conn: Connection, consumer: str, event_id: str) -> None:
        conn.execute(handled.insert().values(consumer=consumer, event_id=event_id))
