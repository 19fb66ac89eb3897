"""An intruder with direct SQL access to a store: each intrusion can be applied and undone.

They work on an owner's ``events`` table or on publicview's ``journal`` (one
source's rows), on SQLite and PostgreSQL, with plain SQL as an attacker
would, computing hashes with the published algorithm and signing with a key
of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kesah import database, signing
from kesah.contracts import RecordedEvent
from kesah.eventstore import event_to_row, row_to_event

STRANGER = signing.Signer.generate("intruder")


class Rows:
    """One log's rows: an owner's events table, or one source's rows in publicview's journal."""

    def __init__(self, engine: Engine, table: str, source: str) -> None:
        self.engine = engine
        self.table = table
        self.source = source
        self.where = "" if table == "events" else f" AND source = '{source}'"
        self._conn: Any = None

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Several statements as one transaction: no reader sees the intrusion half done.

        It holds SQLite's write lock from the start: a transaction that reads first and writes
        later fails at once ("database is locked") when a running service wrote in between.
        """
        with database.writing(self.engine) as conn:
            self._conn = conn
            try:
                yield
            finally:
                self._conn = None

    def sql(self, statement: str, **params: Any) -> Any:
        if self._conn is not None:
            return self._execute(self._conn, statement, params)
        with database.writing(self.engine) as conn:
            return self._execute(conn, statement, params)

    def _execute(self, conn: Any, statement: str, params: dict[str, Any]) -> Any:
        guarded = self.table == "events" and conn.dialect.name == "postgresql" and \
            statement.split()[0] in ("UPDATE", "DELETE")
        if guarded:  # an intruder with the owner's rights switches the append-only trigger off first
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER events_append_only")
        result = conn.execute(sa.text(statement), params)
        if guarded:
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER events_append_only")
        return result

    def row(self, position: int) -> dict[str, Any]:
        result = self.sql(f"SELECT * FROM {self.table} WHERE position = :p{self.where}", p=position)
        return dict(result.mappings().one())

    def event(self, position: int) -> RecordedEvent:
        return row_to_event(_Row(self.row(position)))

    def positions(self) -> list[int]:
        result = self.sql(f"SELECT position FROM {self.table} WHERE 1 = 1{self.where} ORDER BY position")
        return [r[0] for r in result]

    def move(self, old: int, new: int) -> None:
        self.sql(f"UPDATE {self.table} SET position = :new WHERE position = :old{self.where}", new=new, old=old)

    def shift(self, start: int, by: int) -> None:
        """Renumber rows from ``start`` on by ``by``, one at a time so no two rows share a position."""
        positions = [p for p in self.positions() if p >= start]
        for position in sorted(positions, reverse=by > 0):
            self.move(position, position + by)

    def insert(self, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        self.sql(f"INSERT INTO {self.table} ({columns}) VALUES ({values})", **row)

    def delete(self, position: int) -> None:
        self.sql(f"DELETE FROM {self.table} WHERE position = :p{self.where}", p=position)

    def set(self, position: int, **values: Any) -> None:
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        self.sql(f"UPDATE {self.table} SET {assignments} WHERE position = :position{self.where}",
                 position=position, **values)


class _Row:
    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


def signed_by(signer: signing.Signer, event: RecordedEvent) -> RecordedEvent:
    """The event hashed (at its position) and signed with ``signer``'s key."""
    draft = dataclasses.replace(event, hash="", signature="", key_id=signer.key_id)
    digest = draft.computed_hash()
    return dataclasses.replace(draft, hash=digest, signature=signer.sign(digest))


def signed_by_stranger(event: RecordedEvent) -> RecordedEvent:
    return signed_by(STRANGER, event)


class Intrusion:
    kind = ""

    def __init__(self, rows: Rows, position: int) -> None:
        self.rows = rows
        self.position = position

    def apply(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.rows.table}:{self.rows.source}@{self.position})"


def text_field(payload: dict) -> str:
    """A free-text field of any event an intruder may hit (complaints, answers, routing rules)."""
    return next(k for k in ("title", "body", "reason", "agency_name") if k in payload)


class ChangePayload(Intrusion):
    kind = "changed"

    def apply(self) -> None:
        self.saved = self.rows.row(self.position)["payload"]
        payload = json.loads(self.saved)
        payload[text_field(payload)] = "Diubah oleh penyusup"
        self.rows.set(self.position, payload=json.dumps(payload))

    def undo(self) -> None:
        self.rows.set(self.position, payload=self.saved)


class DeleteRow(Intrusion):
    kind = "missing"

    def apply(self) -> None:
        self.saved = self.rows.row(self.position)
        self.rows.delete(self.position)

    def undo(self) -> None:
        self.rows.insert(self.saved)


class InsertForged(Intrusion):
    """A forged event slipped in at ``position``; the genuine ones after it move up by one."""

    kind = "inserted"

    def apply(self) -> None:
        template = self.rows.row(self.position)
        before = self.rows.event(self.position - 1)
        stream = str(uuid.uuid4())
        genuine = row_to_event(_Row(template))
        forged = signed_by_stranger(dataclasses.replace(
            genuine, event_id=str(uuid.uuid4()), stream_id=stream, correlation_id=stream, prev_hash=before.hash,
            payload={**genuine.payload, "complaint_id": stream},
        ))
        row = {**template, **event_to_row(forged)}
        self.forged_id = forged.event_id
        with self.rows.atomic():
            self.rows.shift(self.position, +1)
            if "seq" in row:
                row["seq"] = int(self.rows.sql("SELECT max(seq) FROM journal").scalar()) + 1
            self.rows.insert(row)

    def undo(self) -> None:
        with self.rows.atomic():
            self.rows.sql(f"DELETE FROM {self.rows.table} WHERE event_id = :e", e=self.forged_id)
            self.rows.shift(self.position + 1, -1)


class Reorder(Intrusion):
    """Two events swap positions (``position`` and ``position + 2``)."""

    kind = "reordered"

    def apply(self) -> None:
        other = self.position + 2
        with self.rows.atomic():
            self.rows.move(self.position, -1)
            self.rows.move(other, self.position)
            self.rows.move(-1, other)

    undo = apply


class ResignForeign(Intrusion):
    """An event rewritten, hashed again and signed with the intruder's own key."""

    kind = "bad signature"

    def apply(self) -> None:
        self.saved = self.rows.row(self.position)
        event = self.rows.event(self.position)
        payload = dict(event.payload)
        payload[text_field(payload)] = "Ditandatangani ulang oleh penyusup"
        forged = signed_by_stranger(dataclasses.replace(event, payload=payload))
        row = event_to_row(forged)
        self.rows.set(self.position, payload=row["payload"], hash=row["hash"], key_id=row["key_id"],
                      signature=row["signature"])

    def undo(self) -> None:
        self.rows.set(self.position, **{k: self.saved[k] for k in ("payload", "hash", "key_id", "signature")})


INTRUSIONS = (ChangePayload, DeleteRow, InsertForged, Reorder, ResignForeign)
