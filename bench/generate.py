"""Generated logs: signed, chained events of realistic complaints, written straight into the stores.

A complaint's life here is what the running system writes: intake's
``ComplaintSubmitted``; routing's ``ComplaintRouted`` (caused by it); from
responses an interim answer (``diproses``, some complaints) and a final one
(``dijawab``, most); the reporter's ``ComplaintClosed`` (some answered ones).
That is 3.6 events per complaint on average, about 10% confidential.

Events are signed with each owner's key and chained per owner with the
project's own code (``RecordedEvent.computed_hash``, ``signing.Signer``),
written into each owner's store with ``EventStore.restore`` (verbatim, as
``kesah restore`` would) and into publicview's journal in arrival order:
complaints in windows, each window's submissions first, then their routes,
then the answers, so one complaint's events are never adjacent in the
journal (as in a real log). Publicview's projection is filled too, with the
same ``complaint_view`` the service runs, so the view is complete (case 5).

A dataset is SQLite files plus the keys, made once per size and kept under
``var/bench/<mode>/`` (generating 1M signed events takes a few minutes);
``copy_to`` copies a store's tables into a PostgreSQL database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from kesah import config, database, schema, signing
from kesah.contracts import RecordedEvent
from kesah.eventstore import EventStore, event_to_row

OWNERS = config.OWNERS
WINDOW = 50  # complaints whose events arrive interleaved
CHUNK = 20_000  # events per owner per restore transaction
FORMAT = 2  # bump when what is generated changes: older cached datasets are made again
EVENTS_PER_COMPLAINT = 3.6  # on average, as generated below

KELURAHAN = {k: kec for kec, ks in json.loads((Path(config.__file__).parent / "data" / "bontang.json").read_text())[
    "kecamatan"].items() for k in ks}
AGENCIES = [
    ("pupr", "Dinas Pekerjaan Umum dan Penataan Ruang", "jalan", "Jalan berlubang di {street}",
     "Lubang besar di {street} dekat {place}, sudah dua minggu belum diperbaiki dan membahayakan pengendara motor."),
    ("dlh", "Dinas Lingkungan Hidup", "sampah", "Sampah menumpuk di {street}",
     "Sampah di TPS {street} tidak diangkut sejak Senin, baunya sampai ke {place} dan banyak lalat."),
    ("pdam", "Perumda Air Minum Tirta Taman", "air", "Air PDAM mati di {street}",
     "Air tidak mengalir sejak tiga hari di {street} sekitar {place}; warga harus membeli air galon."),
    ("dishub", "Dinas Perhubungan", "lampu", "Lampu lalu lintas rusak di {street}",
     "Lampu lalu lintas di simpang {street} dekat {place} mati, kendaraan saling serobot pada jam sibuk."),
    ("disdik", "Dinas Pendidikan dan Kebudayaan", "sekolah", "Pertanyaan pendaftaran sekolah",
     "Kapan pendaftaran SD negeri dibuka untuk warga {street}? Anak kami tinggal dekat {place}."),
]
STREETS = ["Jl. Awang Long", "Jl. MT Haryono", "Jl. Ahmad Yani", "Jl. Imam Bonjol", "Jl. Letjen S. Parman",
           "Jl. KS Tubun", "Jl. Pupuk Raya", "Jl. Cipto Mangunkusumo", "Jl. Brigjend Katamso", "Jl. Slamet Riyadi"]
PLACES = ["pasar", "masjid", "SD Negeri 005", "puskesmas", "kantor kelurahan", "lapangan", "pelabuhan", "gereja"]
ANSWERS = {
    "pupr": "Lubang sudah kami tambal hari ini; perbaikan permanen masuk jadwal pengaspalan bulan depan.",
    "dlh": "Sampah sudah diangkut pagi ini dan jadwal armada untuk wilayah ini kami tambah menjadi dua kali seminggu.",
    "pdam": "Ada pipa bocor di jalur utama; sudah diperbaiki dan air kembali mengalir sejak pukul 14.00.",
    "dishub": "Petugas sudah mengganti modul lampu; simpang kembali normal.",
    "disdik": "Pendaftaran dibuka 1 Juni melalui laman PPDB; zonasi mengikuti alamat di kartu keluarga.",
}


@dataclass
class Dataset:
    """A generated installation's data: one SQLite file per store and the keys that signed them."""

    root: Path
    events: int  # in publicview's journal (every owner's events)
    complaints: int
    heads: dict[str, int]  # events per owner
    codes: list[str]  # a sample of public complaints' tracking codes

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def url(self, service: str) -> str:
        return f"sqlite:///{self.root / f'{service}.db'}"

    def keyring(self) -> signing.Keyring:
        return signing.load_keyring(self.keys, OWNERS)

    def copy(self, target: Path, services: tuple[str, ...] = (*OWNERS, "publicview")) -> None:
        """The dataset's files (and keys) into a data directory, so a run may change them freely."""
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.keys, target / "keys", dirs_exist_ok=True)
        for service in services:
            for suffix in ("", "-wal"):  # a WAL left behind holds committed data too
                if (self.root / f"{service}.db{suffix}").exists():
                    shutil.copyfile(self.root / f"{service}.db{suffix}", target / f"{service}.db{suffix}")


class Chain:
    """One owner's log as it grows: positions, hash chain and signatures."""

    def __init__(self, signer: signing.Signer) -> None:
        self.signer = signer
        self.position = 0
        self.prev_hash = signing.GENESIS_HASH
        self.pending: list[RecordedEvent] = []

    def add(self, type_: str, payload: dict[str, Any], complaint_id: str, stream_version: int, at: str,
            causation: RecordedEvent | None) -> RecordedEvent:
        self.position += 1
        event = RecordedEvent(
            position=self.position, event_id=str(uuid.uuid4()), source=self.signer.service, type=type_,
            version=1 if type_ != "ComplaintSubmitted" else 2, stream_id=complaint_id,
            stream_version=stream_version, occurred_at=at,
            causation_id=causation.event_id if causation else None, correlation_id=complaint_id,
            payload=payload, prev_hash=self.prev_hash, hash="", key_id=self.signer.key_id, signature="",
        )
        digest = event.computed_hash()
        event = dataclasses.replace(event, hash=digest, signature=self.signer.sign(digest))
        self.prev_hash = digest
        self.pending.append(event)
        return event


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _code(rng: random.Random) -> str:
    raw = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def complaint_events(i: int, rng: random.Random, chains: dict[str, Chain], start: dt.datetime) -> list[list[RecordedEvent]]:
    """One complaint's events in the order they happen, grouped by the stage they arrive in."""
    complaint_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    code = _code(rng)
    agency_id, agency_name, keyword, title, body = rng.choice(AGENCIES)
    street, place = rng.choice(STREETS), rng.choice(PLACES)
    kelurahan = rng.choice(list(KELURAHAN))
    kind = "pertanyaan" if agency_id == "disdik" else rng.choice(("keluhan", "keluhan", "keluhan", "kritik", "saran"))
    visibility = "confidential" if rng.random() < 0.1 else rng.choice(("public", "public", "anonymous"))
    at = start + dt.timedelta(seconds=30 * i + rng.random())
    submitted = chains["intake"].add("ComplaintSubmitted", {
        "complaint_id": complaint_id, "tracking_code": code, "kind": kind,
        "title": title.format(street=street), "body": body.format(street=street, place=place),
        "kelurahan": kelurahan, "kecamatan": KELURAHAN[kelurahan], "address": f"{street} dekat {place}",
        "visibility": visibility, "channel": rng.choice(("web", "web", "web", "whatsapp", "facebook")),
        "source_id": None, "source_url": None,
    }, complaint_id, 1, _stamp(at), None)
    at += dt.timedelta(seconds=1 + rng.random())
    routed = chains["routing"].add("ComplaintRouted", {
        "complaint_id": complaint_id, "tracking_code": code, "agency_id": agency_id, "agency_name": agency_name,
        "due_date": (at + dt.timedelta(days=7)).date().isoformat(), "matched_keywords": [keyword],
        "reason": f"kata kunci: {keyword}",
    }, complaint_id, 1, _stamp(at), submitted)
    stages: list[list[RecordedEvent]] = [[submitted], [routed], [], []]
    cause, version = routed, 0
    for status in ("diproses", "dijawab"):
        if rng.random() < (0.5 if status == "diproses" else 0.8):
            at += dt.timedelta(hours=rng.uniform(2, 72))
            version += 1
            cause = chains["responses"].add("ResponsePosted", {
                "complaint_id": complaint_id, "tracking_code": code, "response_id": str(uuid.uuid4()),
                "agency_id": agency_id, "agency_name": agency_name, "status": status,
                "body": ANSWERS[agency_id] if status == "dijawab" else "Laporan sudah kami terima dan sedang dicek ke lapangan.",
            }, complaint_id, version, _stamp(at), cause)
            stages[2].append(cause)
    if cause.payload.get("status") == "dijawab" and rng.random() < 0.3:
        at += dt.timedelta(days=rng.uniform(0.5, 5))
        stages[3].append(chains["intake"].add("ComplaintClosed", {
            "complaint_id": complaint_id, "tracking_code": code, "comment": "Terima kasih, sudah beres.",
        }, complaint_id, 2, _stamp(at), cause))
    return stages


def generate(root: Path, events: int, seed: int = 10, progress: Any = None) -> Dataset:
    """About ``events`` events (whole complaints) into fresh SQLite stores under ``root``."""
    from services.publicview import projections
    from services.publicview.store import PROJECTION, checkpoint, complaint_row, complaints, index_complaint, journal

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    signing.init_keys(root / "keys", OWNERS)
    chains = {s: Chain(signing.load_signer(root / "keys", s)) for s in OWNERS}
    stores = {s: EventStore.from_url(f"sqlite:///{root / f'{s}.db'}", s) for s in OWNERS}
    for store in stores.values():
        store.create_schema()
    view_engine = database.create_engine(f"sqlite:///{root / 'publicview.db'}", durable=False)
    schema.upgrade(view_engine, schema.DATABASES["publicview"])
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.timezone.utc)
    seq = count = 0
    codes: list[str] = []
    received = _stamp(dt.datetime.now(dt.timezone.utc))

    def flush(final: bool = False) -> None:
        for source, chain in chains.items():
            if chain.pending and (final or len(chain.pending) >= CHUNK):
                stores[source].restore(chain.pending)
                chain.pending = []

    with database.writing(view_engine) as conn:
        while seq < events:
            window = [complaint_events(count + i, rng, chains, start) for i in range(WINDOW)]
            count += WINDOW
            rows = []
            for stage in range(4):
                for complaint in window:
                    for event in complaint[stage]:
                        seq += 1
                        rows.append({"seq": seq, "received_at": received, **event_to_row(event)})
            conn.execute(journal.insert(), rows)
            for complaint in window:
                doc = projections.complaint_view([e for stage in complaint for e in stage])
                assert doc is not None
                conn.execute(complaints.insert(), complaint_row(doc))
                index_complaint(conn, doc)
                if doc["visibility"] != "confidential" and len(codes) < 1000:
                    codes.append(doc["tracking_code"])
            flush()
            if progress is not None:
                progress(seq)
        conn.execute(checkpoint.insert().values(name=PROJECTION, seq=seq))
    flush(final=True)
    heads = {s: c.position for s, c in chains.items()}
    for store in stores.values():
        store.engine.dispose()
    view_engine.dispose()
    for service in (*OWNERS, "publicview"):  # one file per store: copies need nothing else
        db = sqlite3.connect(root / f"{service}.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    dataset = Dataset(root, seq, count, heads, codes)
    (root / "dataset.json").write_text(json.dumps({"format": FORMAT, "events": seq, "complaints": count,
                                                   "heads": heads, "codes": codes}))
    return dataset


def dataset(cache: Path, events: int) -> Dataset:
    """The cached dataset of this size, generated when missing (or made by an older generator)."""
    root = cache / f"log-{events}"
    for found in cached(cache):
        if found.root == root:
            return found
    started = time.monotonic()
    print(f"    generating {events:,} signed events into {root} (kept for later runs) ...", flush=True)
    made = generate(root, events)
    print(f"    generated {made.events:,} events of {made.complaints:,} complaints in "
          f"{time.monotonic() - started:.0f}s", flush=True)
    return made


def cached(cache: Path) -> list[Dataset]:
    """The datasets generated before (by this generator), smallest first."""
    found = []
    for meta in cache.glob("log-*/dataset.json"):
        data = json.loads(meta.read_text())
        if data.get("format") == FORMAT:
            found.append(Dataset(meta.parent, data["events"], data["complaints"], data["heads"], data["codes"]))
    return sorted(found, key=lambda d: d.events)


def dataset_with_complaints(cache: Path, complaints: int) -> Dataset:
    """The smallest cached dataset with at least ``complaints`` complaints; generated when there is none."""
    for found in cached(cache):
        if found.complaints >= complaints:
            return found
    return dataset(cache, int(complaints * EVENTS_PER_COMPLAINT) + WINDOW * 4)


def rows_of(url: str, table: sa.Table, order: sa.Column, page: int = 5000) -> Iterator[list[dict[str, Any]]]:
    """A table's rows a page at a time (by ``order``, a unique column)."""
    engine = database.create_engine(url)
    try:
        after: Any = None
        while True:
            query = sa.select(table).order_by(order).limit(page)
            if after is not None:
                query = query.where(order > after)
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                return
            yield rows
            after = rows[-1][order.name]
    finally:
        engine.dispose()


def copy_to(source_url: str, target_url: str, components: tuple[str, ...], tables: list[tuple[sa.Table, sa.Column]]) -> None:
    """Migrate ``target_url`` and copy ``tables`` into it from ``source_url`` (set-up, not measured)."""
    engine = database.create_engine(target_url)
    try:
        schema.upgrade(engine, components)
        for table, order in tables:
            for rows in rows_of(source_url, table, order):
                with database.writing(engine) as conn:
                    conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
