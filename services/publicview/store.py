"""publicview's database: the journal of every event received, and the projection.

The journal is a verbatim copy of the owners' events (deduplicated by event
id), numbered in the order they arrived (``seq``, gap-free). The projection
is one row per complaint, recomputed from that complaint's journaled events
in the transaction that journals a new one; the journal row is the
consumer's tracking row, so a redelivered event changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kesah import config, database, schema, signing, stores
from kesah.contracts import RecordedEvent, utc_now
from kesah.eventstore import event_columns, event_to_row, row_to_event
from kesah.signing import Keyring

from . import projections

metadata = sa.MetaData()

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

PROJECTION = "complaints"


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


class PublicView:
    def __init__(self, engine: Engine, keyring: Keyring | None = None) -> None:
        self.engine = engine
        self.keyring = keyring

    @classmethod
    def open(cls, settings: config.Settings) -> "PublicView":
        view = cls(database.create_engine(settings.database_url("publicview")), stores.keyring(settings))
        schema.prepare(view.engine, "publicview")
        return view

    # --- receiving ------------------------------------------------------------

    def _journal_head(self, conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.max(journal.c.seq))).scalar() or 0)

    def receive(self, event: RecordedEvent) -> bool:
        """Journal the event and update its complaint, in one commit. False if seen before."""
        with database.writing(self.engine) as conn:
            database.write_lock(conn, "journal")
            seen = conn.execute(sa.select(journal.c.seq).where(journal.c.event_id == event.event_id)).first()
            if seen is not None:
                return False
            seq = self._journal_head(conn) + 1
            conn.execute(journal.insert().values(seq=seq, received_at=utc_now(), **event_to_row(event)))
            self._project(conn, event.correlation_id)
            self._set_checkpoint(conn, seq)
        return True

    def _events_of(self, conn: Connection, correlation_id: str) -> list[RecordedEvent]:
        rows = conn.execute(sa.select(journal).where(journal.c.correlation_id == correlation_id))
        return [row_to_event(r) for r in rows]

    def _project(self, conn: Connection, correlation_id: str) -> None:
        doc = projections.complaint_view(self._events_of(conn, correlation_id))
        if doc is None:
            return
        conn.execute(complaints.delete().where(complaints.c.complaint_id == doc["complaint_id"]))
        conn.execute(complaints.insert().values(**complaint_row(doc)))

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

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest public complaints; confidential ones are never listed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(complaints.c.document)
                .where(complaints.c.visibility != "confidential")
                .order_by(complaints.c.submitted_at.desc(), complaints.c.tracking_code)
                .limit(limit)
            ).scalars()
            return [json.loads(d) for d in rows]

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
