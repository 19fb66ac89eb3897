"""The public list's filters and full-text search, the same on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from kesah import database, schema, signing
from kesah.contracts import RecordedEvent
from services.publicview import listing
from services.publicview.store import PublicView
from tests.unit.events import keyring, recorded


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def view(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PublicView]:
    url = f"sqlite:///{tmp_path / 'pv.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = database.create_engine(url)
    schema.upgrade(engine, schema.DATABASES["publicview"])
    yield PublicView(engine, keyring())
    engine.dispose()


POSITIONS = {source: itertools.count(1) for source in ("intake", "routing", "responses")}
HEADS = {source: signing.GENESIS_HASH for source in ("intake", "routing", "responses")}


def chained(source: str, type_: str, payload: dict, **kwargs) -> RecordedEvent:  # type: ignore[no-untyped-def]
    """The source's next event, linked to the one before (publicview checks the chain)."""
    event = recorded(source, type_, payload, position=next(POSITIONS[source]), prev_hash=HEADS[source], **kwargs)
    HEADS[source] = event.hash
    return event


def submit(view: PublicView, code: str, title: str, body: str, *, kind: str = "keluhan",
           kelurahan: str = "Api-Api", visibility: str = "public", when: str = "2026-11-25T01:00:00.000000Z",
           agency: str | None = None, answer: str | None = None) -> None:
    cid = str(uuid.uuid4())
    submitted = chained("intake", "ComplaintSubmitted", {
        "complaint_id": cid, "tracking_code": code, "kind": kind, "title": title, "body": body,
        "kelurahan": kelurahan, "kecamatan": "Bontang Utara", "address": "", "visibility": visibility,
        "channel": "web"}, occurred_at=when)
    view.receive(submitted)
    if agency:
        routed = chained("routing", "ComplaintRouted", {
            "complaint_id": cid, "tracking_code": code, "agency_id": agency, "agency_name": agency.upper(),
            "due_date": "2026-12-02", "matched_keywords": [], "reason": "uji"},
            occurred_at=when, causation_id=submitted.event_id)
        view.receive(routed)
        if answer:
            view.receive(chained("responses", "ResponsePosted", {
                "complaint_id": cid, "tracking_code": code, "response_id": str(uuid.uuid4()), "agency_id": agency,
                "agency_name": agency.upper(), "body": answer, "status": "dijawab"},
                occurred_at=when, causation_id=routed.event_id))


def codes(view: PublicView, **query: object) -> list[str]:
    found, total = view.find(listing.Query(**query))  # type: ignore[arg-type]
    assert total == len(found)
    return [d["tracking_code"] for d in found]


def test_filters_and_full_text_search(view: PublicView) -> None:
    submit(view, "AAAA-AAAA", "Jalan berlubang di Jl. Awang Long", "Lubang besar depan pasar.", agency="pupr",
           answer="Sudah kami tambal dengan aspal.", when="2026-11-20T01:00:00.000000Z")
    submit(view, "CCCC-CCCC", "Sampah menumpuk", "Sampah di TPS Loktuan tidak diangkut.", kelurahan="Loktuan",
           agency="dlh", when="2026-11-24T01:00:00.000000Z")
    submit(view, "DDDD-DDDD", "Usul taman kota", "Mohon taman kota diperbanyak.", kind="saran",
           when="2026-11-25T01:00:00.000000Z")
    submit(view, "EEEE-EEEE", "Jalan rahasia rusak", "Jalan di depan rumah pejabat.", visibility="confidential",
           when="2026-11-26T01:00:00.000000Z")

    assert codes(view) == ["DDDD-DDDD", "CCCC-CCCC", "AAAA-AAAA"]  # newest first, confidential never listed
    assert codes(view, kinds=("saran",)) == ["DDDD-DDDD"]
    assert codes(view, kelurahan="Loktuan") == ["CCCC-CCCC"]
    assert codes(view, agency="pupr") == ["AAAA-AAAA"]
    assert codes(view, statuses=("dijawab",)) == ["AAAA-AAAA"]
    assert codes(view, statuses_not=("dijawab",)) == ["DDDD-DDDD", "CCCC-CCCC"]
    assert codes(view, submitted_from="2026-11-24T00:00:00.000000Z",
                 submitted_before="2026-11-25T00:00:00.000000Z") == ["CCCC-CCCC"]
    assert codes(view, codes=("AAAA-AAAA", "EEEE-EEEE")) == ["AAAA-AAAA"]

    assert codes(view, text="jalan") == ["AAAA-AAAA"]  # the confidential one's words are not indexed
    assert codes(view, text="TAMBAL") == ["AAAA-AAAA"]  # agency answers are searched too
    assert codes(view, text="samp") == ["CCCC-CCCC"]  # a word's beginning finds it
    assert codes(view, text="sampah loktuan") == ["CCCC-CCCC"]  # every word must match
    assert codes(view, text="sampah pasar") == []
    assert codes(view, text='"taman" OR (kota*') == []  # operators are plain words, never syntax errors
    assert codes(view, text="taman kota", kinds=("saran",)) == ["DDDD-DDDD"]
    assert codes(view, text="!!!") == codes(view)  # nothing searchable: no search


def test_paging_counts_everything(view: PublicView) -> None:
    for i in range(5):
        submit(view, f"KKKK-KKK{'ACDEF'[i]}", f"Aduan nomor {i}", "Isi aduan uji halaman.",
               when=f"2026-11-2{i}T01:00:00.000000Z")
    found, total = view.find(listing.Query(text="aduan"), offset=2, limit=2)
    assert total == 5 and [d["title"] for d in found] == ["Aduan nomor 2", "Aduan nomor 1"]
