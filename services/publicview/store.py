"""publicview's database: the journal of every event received, and the projection.

The journal is a verbatim copy of the owners' events (deduplicated by event
id), numbered in the order they arrived (``seq``, gap-free). The projection
is one row per complaint, recomputed from that complaint's journaled events
in the transaction that journals a new one; the journal row is the
consumer's tracking row, so a redelivered event changes nothing.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kesah import config, database, schema, signing, stores, verify
from kesah.contracts import ContractError, RecordedEvent, utc_now
from kesah.eventstore import event_columns, event_to_row, row_to_event
from kesah.groupcommit import SharedTransaction
from kesah.signing import Keyring

from . import listing, projections

# The full-text index is made by raw DDL in the migrations (FTS5 on SQLite,
# tsvector on PostgreSQL): not portable, so not in the MetaData.
metadata = sa.MetaData(info={"unmanaged_tables": ("complaint_search",)})

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    *event_columns(),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("source", "position", name="uq_journal_source_position"),
    sa.Index("ix_journal_correlation", "correlation_id"),
    # The journal only grows: the app's role may read and append, nothing else.
    info={"privileges": ("SELECT", "INSERT")},
)

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("tracking_code", sa.String(9), nullable=False, unique=True),
    sa.Column("visibility", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("kelurahan", sa.String(100)),
    sa.Column("status", sa.String(20)),
    sa.Column("agency_id", sa.String(40)),
    sa.Column("submitted_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index("ix_complaints_submitted", "submitted_at"),
)

checkpoint = sa.Table(
    "checkpoint",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

# The owners' log heads as last asked (by the service's timer), to show lag.
source_heads = sa.Table(
    "source_heads",
    metadata,
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("checked_at", sa.String(40), nullable=False),
)

# Full-text search over public complaints (table complaint_search, see the
# migrations): Indonesian stemming on PostgreSQL ("berlubang" finds "lubang").
PG_TEXT_CONFIG = "indonesian"

PROJECTION = "complaints"
# Rows of the checkpoint table that pin the projection at a moment (``kesah rebuild publicview
# --until``): while one is there, events are journaled but not projected (services/publicview/recovery.py).
PINS = ("until_seq", "until_time")


def complaint_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "complaint_id": doc["complaint_id"],
        "tracking_code": doc["tracking_code"],
        "visibility": doc["visibility"],
        "kind": doc["kind"],
        "kelurahan": doc["kelurahan"],
        "status": doc["status"],
        "agency_id": (doc.get("agency") or {}).get("id"),
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["updated_at"],
        "document": signing.canonical(doc).decode("utf-8"),
    }


def search_entry(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The complaint's full-text entry (its id, a stable FTS5 rowid, its words); a confidential one has none."""
    if doc["visibility"] == "confidential":
        return None
    text = listing.search_text(doc)
    if not text:
        return None
    # FTS5 deletes by rowid cheaply; derive a stable one from the id (60 bits of a UUID).
    return {"id": doc["complaint_id"], "rowid": search_rowid(doc["complaint_id"]), "text": text}


def search_rowid(complaint_id: str) -> int:
    return int(complaint_id.replace("-", "")[:15], 16)


def insert_search(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Add search entries (one statement, many rows)."""
    if not entries:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"INSERT INTO complaint_search (complaint_id, tsv) "
                             f"VALUES (:id, to_tsvector('{PG_TEXT_CONFIG}', :text))"), entries)
    else:
        conn.execute(sa.text("INSERT INTO complaint_search (rowid, complaint_id, text) VALUES (:rowid, :id, :text)"),
                     entries)


def index_complaint(conn: Connection, doc: dict[str, Any]) -> None:
    """Keep the complaint's search entry in step."""
    complaint_id = doc["complaint_id"]
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("DELETE FROM complaint_search WHERE complaint_id = :id"), {"id": complaint_id})
    else:
        conn.execute(sa.text("DELETE FROM complaint_search WHERE rowid = :rowid"), {"rowid": search_rowid(complaint_id)})
    entry = search_entry(doc)
    if entry is not None:
        insert_search(conn, [entry])


class PublicView:
    def __init__(self, engine: Engine, keyring: Keyring | None = None) -> None:
        self.engine = engine
        self.keyring = keyring
        # Events received together are journaled and projected in one transaction (one commit).
        self.transactions = SharedTransaction(self._journaling)

    @classmethod
    def open(cls, settings: config.Settings) -> "PublicView":
        view = cls(database.create_engine(settings.database_url("publicview")), stores.keyring(settings))
        schema.prepare(view.engine, "publicview")
        return view

    # --- receiving ------------------------------------------------------------

    def _journal_head(self, conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.max(journal.c.seq))).scalar() or 0)

    def receive(self, event: RecordedEvent) -> bool:
        """Journal the event and update its complaint, in one commit. False if seen before.

        Events received together share that commit (``SharedTransaction``).
        """
        return self.transactions.run(lambda conn: self._receive_in(conn, event))

    @contextlib.contextmanager
    def _journaling(self) -> Iterator[Connection]:
        with database.writing(self.engine) as conn:
            database.write_lock(conn, "journal")
            yield conn

    def _receive_in(self, conn: Connection, event: RecordedEvent) -> bool:
        seen = conn.execute(sa.select(journal.c.seq).where(journal.c.event_id == event.event_id)).first()
        if seen is not None:
            return False
        self._check_links(conn, event)
        seq = self._journal_head(conn) + 1
        conn.execute(journal.insert().values(seq=seq, received_at=utc_now(), **event_to_row(event)))
        if not self.pinned(conn):
            self._project(conn, event.correlation_id)
            self._set_checkpoint(conn, seq)
        return True

    def pinned(self, conn: Connection) -> bool:
        """The projection shows a past moment (rebuilt with --until): new events are only journaled."""
        return conn.execute(sa.select(checkpoint.c.name).where(checkpoint.c.name.in_(PINS)).limit(1)).first() \
            is not None

    def _check_links(self, conn: Connection, event: RecordedEvent) -> None:
        """ContractError when the event does not fit the chain the journal holds of its source.

        The journal is the one consumer that receives every event of every
        owner, so it can check the hash chain, not only each event alone.
        """
        if self.keyring is None:
            return
        rows = conn.execute(sa.select(journal).where(
            journal.c.source == event.source, journal.c.position.between(event.position - 1, event.position + 1)))
        problem = verify.link_problem(event, [row_to_event(r) for r in rows], self.keyring)
        if problem is not None:
            raise ContractError(problem)

    def _events_of(self, conn: Connection, correlation_id: str) -> list[RecordedEvent]:
        rows = conn.execute(sa.select(journal).where(journal.c.correlation_id == correlation_id))
        return [row_to_event(r) for r in rows]

    def _project(self, conn: Connection, correlation_id: str) -> None:
        doc = projections.complaint_view(self._events_of(conn, correlation_id))
        if doc is None:
            return
        conn.execute(complaints.delete().where(complaints.c.complaint_id == doc["complaint_id"]))
        conn.execute(complaints.insert().values(**complaint_row(doc)))
        index_complaint(conn, doc)

    def _set_checkpoint(self, conn: Connection, seq: int) -> None:
        updated = conn.execute(checkpoint.update().where(checkpoint.c.name == PROJECTION).values(seq=seq))
        if updated.rowcount == 0:
            conn.execute(checkpoint.insert().values(name=PROJECTION, seq=seq))

    # --- reading --------------------------------------------------------------

    def complaint(self, tracking_code: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            doc = conn.execute(
                sa.select(complaints.c.document).where(complaints.c.tracking_code == tracking_code)
            ).scalar()
        return json.loads(doc) if doc else None

    def _conditions(self, conn: Connection, query: listing.Query) -> list[Any]:
        c = complaints.c
        conditions: list[Any] = [c.visibility != "confidential"]
        if query.codes:
            conditions.append(c.tracking_code.in_(query.codes))
        if query.kinds:
            conditions.append(c.kind.in_(query.kinds))
        if query.kelurahan:
            conditions.append(c.kelurahan == query.kelurahan)
        if query.agency:
            conditions.append(c.agency_id == query.agency)
        if query.statuses:
            conditions.append(c.status.in_(query.statuses))
        if query.statuses_not:
            conditions.append(c.status.not_in(query.statuses_not))
        if query.submitted_from:
            conditions.append(c.submitted_at >= query.submitted_from)
        if query.submitted_before:
            conditions.append(c.submitted_at < query.submitted_before)
        terms = listing.search_terms(query.text)
        if terms:
            # Terms are letters and digits only, so they cannot be query syntax.
            if conn.dialect.name == "postgresql":
                match = sa.text(
                    "complaints.complaint_id IN (SELECT complaint_id FROM complaint_search "
                    f"WHERE tsv @@ to_tsquery('{PG_TEXT_CONFIG}', :terms))"
                ).bindparams(terms=" & ".join(f"{t}:*" for t in terms))
            else:
                match = sa.text(
                    "complaints.complaint_id IN (SELECT complaint_id FROM complaint_search "
                    "WHERE complaint_search MATCH :terms)"
                ).bindparams(terms=" ".join(f'"{t}"*' for t in terms))
            conditions.append(match)
        return conditions

    def find(self, query: listing.Query, offset: int = 0, limit: int = listing.PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
        """Public complaints matching the query, newest first, and how many match in all."""
        with self.engine.connect() as conn:
            conditions = self._conditions(conn, query)
            return self._newest(conn, conditions, offset, limit), self._count(conn, conditions)

    def newest(self, query: listing.Query, offset: int = 0, limit: int = listing.PAGE_SIZE) -> list[dict[str, Any]]:
        """Public complaints matching the query, newest first, not counted (a count reads every row)."""
        with self.engine.connect() as conn:
            return self._newest(conn, self._conditions(conn, query), offset, limit)

    def count(self, query: listing.Query) -> int:
        with self.engine.connect() as conn:
            return self._count(conn, self._conditions(conn, query))

    @staticmethod
    def _count(conn: Connection, conditions: list[Any]) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(complaints).where(*conditions)).scalar() or 0)

    @staticmethod
    def _newest(conn: Connection, conditions: list[Any], offset: int, limit: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            sa.select(complaints.c.document)
            .where(*conditions)
            .order_by(complaints.c.submitted_at.desc(), complaints.c.tracking_code)
            .offset(offset)
            .limit(limit)
        ).scalars()
        return [json.loads(d) for d in rows]

    def public_documents(self, page: int = 500) -> Iterator[dict[str, Any]]:
        """Every listed complaint (confidential ones are not), by tracking code, a page at a time."""
        after = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(complaints.c.tracking_code, complaints.c.document)
                    .where(complaints.c.visibility != "confidential", complaints.c.tracking_code > after)
                    .order_by(complaints.c.tracking_code)
                    .limit(page)
                ).all()
            for row in rows:
                yield json.loads(row.document)
            if len(rows) < page:
                return
            after = rows[-1].tracking_code

    def public_events(self, page: int = 1000) -> Iterator[tuple[RecordedEvent, bool]]:
        """The journal by source and position, each event with whether its payload must be
        withheld: it belongs to a complaint the public may not read (confidential, or whose
        submission has not arrived yet, so its visibility is unknown)."""
        with self.engine.connect() as conn:
            visibility = dict(conn.execute(sa.select(complaints.c.complaint_id, complaints.c.visibility)).all())
        after: tuple[str, int] = ("", 0)
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(journal)
                    .where(sa.tuple_(journal.c.source, journal.c.position) > sa.tuple_(*after))
                    .order_by(journal.c.source, journal.c.position)
                    .limit(page)
                ).all()
            for row in rows:
                event = row_to_event(row)
                known = visibility.get(event.correlation_id)
                about_complaint = "complaint_id" in event.payload
                hidden = known == "confidential" or (known is None and about_complaint)
                yield event, hidden
            if len(rows) < page:
                return
            after = (rows[-1].source, rows[-1].position)

    def record_source_head(self, source: str, position: int, hash_: str) -> None:
        with database.writing(self.engine) as conn:
            conn.execute(source_heads.delete().where(source_heads.c.source == source))
            conn.execute(source_heads.insert().values(source=source, position=position, hash=hash_,
                                                      checked_at=utc_now()))

    def freshness(self) -> dict[str, Any]:
        """How current the public view is: per source, the log head as last asked and what
        the journal holds; the projection's checkpoint; when the last event arrived."""
        with self.engine.connect() as conn:
            received = {
                r.source: (int(r.count), int(r.highest))
                for r in conn.execute(
                    sa.select(journal.c.source, sa.func.count().label("count"),
                              sa.func.max(journal.c.position).label("highest")).group_by(journal.c.source)
                )
            }
            heads = {r.source: r for r in conn.execute(sa.select(source_heads))}
            last = conn.execute(sa.select(sa.func.max(journal.c.received_at))).scalar()
            projected = conn.execute(
                sa.select(checkpoint.c.seq).where(checkpoint.c.name == PROJECTION)
            ).scalar()
            journal_head = self._journal_head(conn)
            from .recovery import pinned_at  # recovery builds on this module

            pin = pinned_at(conn)
        sources = []
        for source in sorted(set(received) | set(heads) | set(config.OWNERS)):
            count, highest = received.get(source, (0, 0))
            head = heads.get(source)
            sources.append({
                "source": source,
                "head": int(head.position) if head else None,
                "checked_at": head.checked_at if head else None,
                "received": count,
                "highest_received": highest,
                "lag": max(0, int(head.position) - count) if head else None,
            })
        return {
            "sources": sources,
            "journal": journal_head,
            "checkpoint": int(projected or 0),
            "projection_lag": journal_head - int(projected or 0),
            "pinned": pin.describe() if pin else None,
            "last_received_at": last,
        }

    def checkpoint(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(checkpoint.c.seq).where(checkpoint.c.name == PROJECTION)).scalar() or 0
            )

    def journal_size(self) -> int:
        with self.engine.connect() as conn:
            return self._journal_head(conn)

    def heads(self) -> dict[str, int]:
        """Highest position journaled per source."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(journal.c.source, sa.func.max(journal.c.position)).group_by(journal.c.source))
            return {source: int(position) for source, position in rows}

    def dump(self) -> Iterator[str]:
        """The canonical dump: one line per complaint, ordered by tracking code."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(complaints.c.document).order_by(complaints.c.tracking_code))
            for (document,) in rows:
                yield document
