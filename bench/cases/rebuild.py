"""4. Rebuild and replay: publicview's projection rebuilt from its journal, events/s, SQLite and PostgreSQL.

The journal holds generated, signed events (bench/generate.py): 100k and 1M
on SQLite, 100k on PostgreSQL by default (``--rebuild-events``,
``--pg-rebuild-events``: loading 1M events into PostgreSQL and rebuilding
them there takes about ten minutes on this machine). ``services.publicview.recovery.rebuild`` drops the projection
and folds it again from the journal, as ``kesah rebuild publicview`` does.

Baselines, in the same run on the same database:

- raw read-and-insert: every journal row read with the bare driver
  (sqlite3; psycopg2 with a server-side cursor) and inserted into a plain
  table of the same columns (executemany / execute_values, 1000 rows a
  statement), one transaction: what the database does with these rows
  when nothing is decoded, folded or indexed;
- the ``eventsourcing`` library (PyPI) projecting the same events: they
  are stored in its application recorder (set-up, not timed), then its
  ``ProjectionRunner`` runs a ``Projection`` whose view keeps the same
  public document per complaint, folded by the same ``complaint_view``;
  the library's way is one transaction per event with its tracking row.
  It runs on the first ``--es-events`` events only (it is slow: at full
  size it would take most of an hour); its rate is per event, so it
  compares with the rebuild's.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
import uuid
from typing import Any

import sqlalchemy as sa

from bench.generate import Dataset, dataset
from bench.harness import Figure, Run
from kesah import database, schema

CASE = "4 rebuild"
TARGET = 0.5
GOAL_SECONDS = 30.0
GOAL_EVENTS = 1_000_000
PAGE = 1000

JOURNAL_COLUMNS = ("seq", "position", "event_id", "source", "type", "version", "stream_id", "stream_version",
                   "occurred_at", "causation_id", "correlation_id", "payload", "prev_hash", "hash", "key_id",
                   "signature", "received_at")


# --- where the journal is --------------------------------------------------------------------

def sqlite_view(r: Run, data: Dataset) -> str:
    target = r.work / f"rebuild-{data.events}"
    data.copy(target, ("publicview",))
    r.on_close(lambda: _remove(target))
    return f"sqlite:///{target / 'publicview.db'}"


def _remove(path: Any) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def postgres_view(r: Run, data: Dataset) -> str:
    """A PostgreSQL database with publicview's schema and the dataset's journal (COPY; not measured)."""
    import psycopg2

    url = r.pg_database()
    engine = database.create_engine(url)
    schema.upgrade(engine, schema.DATABASES["publicview"])
    engine.dispose()
    source = sqlite3.connect(data.root / "publicview.db")
    target = psycopg2.connect(url)
    try:
        cursor = source.execute(f"SELECT {', '.join(JOURNAL_COLUMNS)} FROM journal ORDER BY seq")
        with target.cursor() as out:
            while True:
                rows = cursor.fetchmany(20_000)
                if not rows:
                    break
                buffer = io.StringIO()
                csv.writer(buffer).writerows([["\\N" if v is None else v for v in row] for row in rows])
                buffer.seek(0)
                out.copy_expert(f"COPY journal ({', '.join(JOURNAL_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                                buffer)
        target.commit()
    finally:
        source.close()
        target.close()
    return url


# --- the raw baseline ----------------------------------------------------------------------------

def raw_read_insert(url: str) -> tuple[int, float]:
    """Every journal row read and inserted into a plain table with the bare driver; (rows, seconds)."""
    engine = database.create_engine(url)
    columns = ", ".join(JOURNAL_COLUMNS)
    postgres = not database.is_sqlite(engine)
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        setup = dbapi.cursor()
        setup.execute("DROP TABLE IF EXISTS bench_raw_copy")
        if postgres:
            setup.execute("CREATE TABLE bench_raw_copy (LIKE journal INCLUDING DEFAULTS)")
            setup.execute("ALTER TABLE bench_raw_copy ADD PRIMARY KEY (seq)")
        else:
            setup.execute("CREATE TABLE bench_raw_copy AS SELECT * FROM journal WHERE 0")
            setup.execute("CREATE UNIQUE INDEX bench_raw_copy_seq ON bench_raw_copy (seq)")
        dbapi.commit()
        started = time.perf_counter()
        count = 0
        if postgres:
            from psycopg2.extras import execute_values

            reader = dbapi.cursor(name="bench_raw_read")  # server-side: streamed, never the whole table
            reader.itersize = PAGE
            reader.execute(f"SELECT {columns} FROM journal ORDER BY seq")
            writer = dbapi.cursor()
            while rows := reader.fetchmany(PAGE):
                execute_values(writer, f"INSERT INTO bench_raw_copy ({columns}) VALUES %s", rows, page_size=PAGE)
                count += len(rows)
            reader.close()
        else:
            dbapi.execute("BEGIN IMMEDIATE")
            reader = dbapi.execute(f"SELECT {columns} FROM journal ORDER BY seq")
            marks = ", ".join("?" * len(JOURNAL_COLUMNS))
            while rows := reader.fetchmany(PAGE):
                dbapi.executemany(f"INSERT INTO bench_raw_copy ({columns}) VALUES ({marks})", rows)
                count += len(rows)
        dbapi.commit()
        seconds = time.perf_counter() - started
        cleanup = dbapi.cursor()
        cleanup.execute("DROP TABLE bench_raw_copy")
        dbapi.commit()
        return count, seconds
    finally:
        raw.close()
        engine.dispose()


# --- the project's rebuild ------------------------------------------------------------------------

def rebuild(url: str, data: Dataset) -> tuple[int, float, int]:
    """``recovery.rebuild`` over the journal at ``url``; (events, seconds, complaints projected)."""
    from services.publicview import recovery
    from services.publicview.store import PublicView

    view = PublicView(database.create_engine(url), data.keyring())
    try:
        started = time.perf_counter()
        report = recovery.rebuild(view)
        seconds = time.perf_counter() - started
        return report.events, seconds, report.complaints
    finally:
        view.engine.dispose()


# --- the eventsourcing library ------------------------------------------------------------------------

class Journaled:
    """A journaled event as the eventsourcing library's mapper rebuilds it (attributes = the event's fields)."""

    originator_id: uuid.UUID  # the complaint
    originator_version: int


def _es_env(url: str) -> dict[str, str]:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(parsed.database)}
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": str(parsed.database),
            "POSTGRES_HOST": parsed.host or "127.0.0.1", "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": parsed.username or "postgres", "POSTGRES_PASSWORD": parsed.password or ""}


def _es_classes(postgres: bool) -> tuple[type, type, type]:
    """The application, the view (a tracking recorder with a complaints table) and the projection."""
    from eventsourcing.application import Application
    from eventsourcing.projection import Projection
    from eventsourcing.persistence import Tracking

    from kesah.contracts import RecordedEvent
    from services.publicview import projections

    fields = ("position", "event_id", "source", "type", "version", "stream_id", "stream_version", "occurred_at",
              "causation_id", "correlation_id", "payload", "prev_hash", "hash", "key_id", "signature")

    def fold(events: list[dict[str, Any]]) -> str:
        doc = projections.complaint_view([RecordedEvent(**e) for e in events])
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if doc else ""

    class Complaints(Application):  # type: ignore[misc]
        name = "Complaints"

    if postgres:
        from eventsourcing.postgres import PostgresTrackingRecorder
        from psycopg.sql import SQL

        class View(PostgresTrackingRecorder):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.sql_create_statements.append(SQL(
                    "CREATE TABLE IF NOT EXISTS es_complaints (complaint_id text PRIMARY KEY, "
                    "events text NOT NULL, document text NOT NULL)"))

            def project(self, message: dict[str, Any], tracking: Tracking) -> None:
                with self.datastore.transaction(commit=True) as curs:
                    curs.execute("SELECT events FROM es_complaints WHERE complaint_id = %s",
                                 (message["correlation_id"],))
                    row = curs.fetchone()
                    events = (json.loads(row["events"]) if row else []) + [message]
                    curs.execute(
                        "INSERT INTO es_complaints VALUES (%s, %s, %s) ON CONFLICT (complaint_id) DO UPDATE "
                        "SET events = EXCLUDED.events, document = EXCLUDED.document",
                        (message["correlation_id"], json.dumps(events), fold(events)))
                    self._insert_tracking(curs, tracking)
    else:
        from eventsourcing.sqlite import SQLiteTrackingRecorder

        class View(SQLiteTrackingRecorder):  # type: ignore[misc,no-redef]
            def construct_create_table_statements(self) -> list[str]:
                return super().construct_create_table_statements() + [
                    "CREATE TABLE IF NOT EXISTS es_complaints (complaint_id TEXT PRIMARY KEY, "
                    "events TEXT NOT NULL, document TEXT NOT NULL)"]

            def project(self, message: dict[str, Any], tracking: Tracking) -> None:
                with self.datastore.transaction(commit=True) as c:
                    c.execute("SELECT events FROM es_complaints WHERE complaint_id = ?", (message["correlation_id"],))
                    row = c.fetchone()
                    events = (json.loads(row[0]) if row else []) + [message]
                    c.execute("INSERT OR REPLACE INTO es_complaints VALUES (?, ?, ?)",
                              (message["correlation_id"], json.dumps(events), fold(events)))
                    self._insert_tracking(c, tracking)

    class ComplaintsProjection(Projection[View]):  # type: ignore[misc,valid-type]
        name = "ComplaintsProjection"

        def process_event(self, domain_event: Any, tracking: Tracking) -> None:
            self.view.project({name: domain_event.__dict__[name] for name in fields}, tracking)

    return Complaints, View, ComplaintsProjection


def eventsourcing_projection(url: str, count: int) -> tuple[int, float]:
    """The first ``count`` journal events stored in eventsourcing's recorder, then projected by its runner."""
    from eventsourcing.persistence import InfrastructureFactory, StoredEvent, Tracking
    from eventsourcing.utils import Environment

    postgres = not database.is_sqlite(url)
    env = _es_env(url)
    app_class, view_class, projection_class = _es_classes(postgres)
    app = app_class(env)
    engine = database.create_engine(url)
    topic = f"{Journaled.__module__}:{Journaled.__qualname__}"
    versions: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            from services.publicview.store import journal

            result = conn.execution_options(stream_results=True, yield_per=PAGE).execute(
                sa.select(journal).order_by(journal.c.seq).limit(count))
            for rows in result.partitions(PAGE):
                stored = []
                for row in rows:
                    m = dict(row._mapping)
                    message = {k: m[k] for k in JOURNAL_COLUMNS if k not in ("seq", "received_at")}
                    message["payload"] = json.loads(message["payload"])
                    complaint = message["correlation_id"]
                    versions[complaint] = versions.get(complaint, 0) + 1
                    stored.append(StoredEvent(originator_id=uuid.UUID(complaint),
                                              originator_version=versions[complaint], topic=topic,
                                              state=app.mapper.transcoder.encode(message)))
                app.recorder.insert_events(stored)
        last = app.recorder.max_notification_id() or 0
    finally:
        engine.dispose()
        app.close()
    # The library's ProjectionRunner follows a recorder's subscription, which its SQLite recorder
    # does not offer; this loop does what the runner's thread does: each notification, in order,
    # mapped to a domain event and handed to the projection with its tracking object.
    app = app_class(env)
    view = InfrastructureFactory.construct(env=Environment(projection_class.name, env)).tracking_recorder(view_class)
    projection = projection_class(view=view)
    try:
        started = time.perf_counter()
        position = view.max_tracking_id(app.name)
        while True:
            notifications = app.recorder.select_notifications(position, PAGE, inclusive_of_start=position is None)
            for notification in notifications:
                projection.process_event(app.mapper.to_domain_event(notification),
                                         Tracking(app.name, notification.id))
            if not notifications:
                break
            position = notifications[-1].id
        seconds = time.perf_counter() - started
        if view.max_tracking_id(app.name) != last:
            raise RuntimeError(f"eventsourcing projected up to {view.max_tracking_id(app.name)} of {last}")
    finally:
        app.close()
        view.close() if hasattr(view, "close") else None
    return sum(versions.values()), seconds


# --- the case ---------------------------------------------------------------------------------------

def measure(r: Run, kind: str, data: Dataset, beside_eventsourcing: bool) -> None:
    url = sqlite_view(r, data) if kind == "SQLite" else postgres_view(r, data)
    size = f"{data.events:,}"
    # Raw before and after the rebuild (the better counts: the machine is shared); a big journal
    # only after (the raw pass alone takes a minute there).
    passes = [raw_read_insert(url)] if data.events < GOAL_EVENTS else []
    events, seconds, projected = rebuild(url, data)
    passes.append(raw_read_insert(url))
    raw_rate = max(rows / took for rows, took in passes)
    if events != data.events or projected != data.complaints:
        raise RuntimeError(f"rebuild read {events} of {data.events} events, projected {projected} of "
                           f"{data.complaints} complaints")
    rate = events / seconds
    r.add(Figure(CASE, f"rebuild {kind}, {size} events", rate, "events/s", raw_rate,
                 "raw read+insert, same db", target=TARGET, note=f"{seconds:.1f} s"))
    r.note(CASE, f"{kind} {size}: rebuild {seconds:.1f} s ({rate:,.0f} events/s, {projected:,} complaints); "
                 f"raw read+insert {' and '.join(f'{rows / took:,.0f}' for rows, took in passes)} rows/s")
    if data.events >= GOAL_EVENTS:
        r.goal(CASE, f"{GOAL_EVENTS:,} events rebuilt in < {GOAL_SECONDS:g} s ({kind})",
               seconds * GOAL_EVENTS / data.events < GOAL_SECONDS, f"{data.events:,} events in {seconds:.1f} s")
    es_count = min(data.events, r.sizes.es_events)
    if es_count and beside_eventsourcing:
        es_events, es_seconds = eventsourcing_projection(url, es_count)
        r.add(Figure(CASE, f"rebuild {kind} beside eventsourcing", rate, "events/s", es_events / es_seconds,
                     f"eventsourcing {es_events:,} events"))


def run(r: Run) -> None:
    for kind, sizes in (("SQLite", r.sizes.rebuild_events), ("PostgreSQL", r.sizes.pg_rebuild_events)):
        for i, size in enumerate(sizes):
            measure(r, kind, dataset(r.cache, size), beside_eventsourcing=i == 0)
            r.close()  # drop this size's database before the next one is made
