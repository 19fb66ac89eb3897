"""Rebuild and refill of publicview's store, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from kesah import database, schema, signing
from kesah.contracts import RecordedEvent
from services.publicview import listing
from services.publicview.recovery import Refusal, RefillRefused, rebuild, refill
from services.publicview.store import PublicView, journal
from tests.unit.events import keyring, recorded


def open_view(url: str) -> PublicView:
    engine = database.create_engine(url)
    schema.upgrade(engine, schema.DATABASES["publicview"])
    return PublicView(engine, keyring())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    else:
        make = request.getfixturevalue("make_pg_database")
        yield make(), make()


@pytest.fixture
def views(urls: tuple[str, str]) -> Iterator[tuple[PublicView, PublicView]]:
    first, second = open_view(urls[0]), open_view(urls[1])
    yield first, second
    first.engine.dispose()
    second.engine.dispose()


def life(n: int, first: int = 0) -> list[RecordedEvent]:
    """n complaints, each submitted, routed and (every other one) answered, as the owners log them."""
    events: list[RecordedEvent] = []
    heads = {"intake": first, "routing": first, "responses": first}
    links = {"intake": signing.GENESIS_HASH, "routing": signing.GENESIS_HASH, "responses": signing.GENESIS_HASH}

    def add(source: str, type_: str, payload: dict, when: str, cause: str | None = None) -> RecordedEvent:
        heads[source] += 1
        event = recorded(source, type_, payload, position=heads[source], occurred_at=when, causation_id=cause,
                         prev_hash=links[source])
        links[source] = event.hash
        events.append(event)
        return event

    for i in range(first, first + n):
        cid, code = str(uuid.uuid4()), f"ACD{i % 10}-{'FHJKMNPRTW'[i % 10]}{'FHJKMNPRTW'[i // 10 % 10]}AA"
        at = f"2026-11-25T{i // 60 % 24:02d}:{i % 60:02d}:00.000000Z"
        submitted = add("intake", "ComplaintSubmitted", {
            "complaint_id": cid, "tracking_code": code, "kind": "keluhan", "title": f"Jalan berlubang {i}",
            "body": "Lubang besar di depan pasar.", "kelurahan": "Api-Api", "kecamatan": "Bontang Utara",
            "address": "", "visibility": "confidential" if i % 7 == 3 else "public", "channel": "web"}, at)
        routed = add("routing", "ComplaintRouted", {
            "complaint_id": cid, "tracking_code": code, "agency_id": "pupr", "agency_name": "Dinas PUPR",
            "due_date": "2026-12-02", "matched_keywords": ["jalan"], "reason": "uji"}, at.replace(":00.0", ":01.0"),
            submitted.event_id)
        if i % 2 == 0:
            add("responses", "ResponsePosted", {
                "complaint_id": cid, "tracking_code": code, "response_id": str(uuid.uuid4()), "agency_id": "pupr",
                "agency_name": "Dinas PUPR", "body": f"Sudah ditambal {i}.", "status": "dijawab"},
                at.replace(":00.0", ":02.0"), routed.event_id)
    return events


def test_a_rebuild_gives_the_live_projection_byte_for_byte(views: tuple[PublicView, PublicView]) -> None:
    live, _ = views
    events = life(30)
    for event in reversed(events):  # any arrival order
        live.receive(event)
    before = list(live.dump())
    assert len(before) == 30
    seen: list[tuple[int, int]] = []
    report = rebuild(live, progress=lambda done, total: seen.append((done, total)))
    assert list(live.dump()) == before
    assert (report.events, report.complaints, report.checkpoint) == (len(events), 30, len(events))
    assert seen[-1] == (len(events), len(events))
    assert live.checkpoint() == len(events)
    assert rebuild(live).complaints == 30 and list(live.dump()) == before  # safe to re-run
    found, total = live.find(listing.Query(text="berlubang"))
    assert total == 30 - len([i for i in range(30) if i % 7 == 3])


def test_the_fold_across_processes_gives_the_same_dump(views: tuple[PublicView, PublicView],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from services.publicview import recovery

    view, _ = views
    for event in life(40):
        view.receive(event)
    monkeypatch.setattr(recovery, "CHUNK", 7)  # many chunks in flight
    one = rebuild(view)
    alone = list(view.dump())
    monkeypatch.setattr(recovery, "fold_workers", lambda events: 2)
    two = rebuild(view)
    assert list(view.dump()) == alone
    assert (two.events, two.complaints) == (one.events, one.complaints) == (100, 40)


def test_a_refilled_empty_journal_rebuilds_to_the_same_dump(views: tuple[PublicView, PublicView]) -> None:
    live, empty = views
    events = life(20)
    for event in events:
        live.receive(event)
    assert refill(empty, events) == len(events)
    assert refill(empty, events) == 0  # safe to re-run: held events are skipped by id
    rebuild(empty)
    assert list(empty.dump()) == list(live.dump())


def test_forged_events_are_refused_and_the_rest_journaled(views: tuple[PublicView, PublicView]) -> None:
    _, view = views
    events = life(3)
    forged = RecordedEvent(**{**events[1].to_message(), "payload": {**events[1].payload, "agency_id": "dlh"}})
    refused: list[Refusal] = []
    assert refill(view, [events[0], forged] + events[2:], refused=refused) == len(events) - 1
    assert len(refused) == 1 and refused[0].event_id == forged.event_id and "hash" in refused[0].reason
    with pytest.raises(RefillRefused, match="1 event"):
        refill(view, [forged])
    # The genuine event at that position is welcome; an impostor signed by the owner's key, not.
    assert refill(view, [events[1]]) == 1
    impostor = recorded("intake", "ComplaintSubmitted", {**events[0].payload, "title": "Palsu"}, position=1,
                        occurred_at=events[0].occurred_at)
    with pytest.raises(RefillRefused, match="hash chain broken: position 1 of intake's log already holds"):
        refill(view, [impostor])
    with view.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(journal)).scalar() == len(events)


def test_until_pins_the_view_at_a_moment_until_a_full_rebuild(views: tuple[PublicView, PublicView]) -> None:
    view, _ = views
    events = life(2)  # 0: submitted, routed, answered; 1: submitted, routed
    for event in events:
        view.receive(event)
    code = events[0].payload["tracking_code"]
    assert view.complaint(code)["status"] == "dijawab"
    rebuild(view, until=events[1].occurred_at)  # after the routing, before the answer
    assert view.complaint(code)["status"] == "diteruskan"
    assert view.complaint(events[3].payload["tracking_code"]) is None  # submitted later
    # Pinned: a late event is journaled, not shown, until the operator rebuilds without --until.
    late = life(1, first=5)[0]  # another log's position 6: no neighbour to clash with
    view.receive(late)
    assert view.complaint(late.payload["tracking_code"]) is None
    rebuild(view, until="3")
    assert [view.complaint(e.payload["tracking_code"]) is not None for e in (events[0], events[3])] == [True, False]
    rebuild(view)
    assert view.complaint(code)["status"] == "dijawab"
    assert view.complaint(late.payload["tracking_code"]) is not None


def test_a_pinned_view_verifies_and_heals_as_it_stood(views: tuple[PublicView, PublicView]) -> None:
    from services.publicview.integrity import heal_projection, verify_projection

    view, _ = views
    events = life(2)
    for event in events:
        view.receive(event)
    rebuild(view, until=events[1].occurred_at)
    assert verify_projection(view).ok
    pinned = list(view.dump())
    code = events[0].payload["tracking_code"]
    with view.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM complaints WHERE tracking_code = :c"), {"c": code})
    report = verify_projection(view)
    assert not report.ok and report.differences[0]["tracking_code"] == code
    assert heal_projection(view, report) == 1
    assert list(view.dump()) == pinned and verify_projection(view).ok
