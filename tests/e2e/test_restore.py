"""Drills 2 and 3 and their kin: a store is destroyed; a copy of the log brings it back.

For an owner, its writers (worker, web face, relay) are stopped before its
store is deleted and started again after the restore. An owner that opens
an empty store begins a new log at position 1 (routing even seeds its rules
as events at start), a fork from the true log that the restore then
refuses, as one test here shows; and handlers running against a store
without its log fail and are redelivered until they may be dead-lettered.
So the drill is the runbook's: stop the owner's processes, move the
database aside, restore, start them. The rest of the system runs on.
Publicview's database (drill 2) is deleted while everything runs, as in
drill 1: publicview only ever copies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kesah import stores
from kesah.restore import ORIGIN_NAMES
from kesah.eventstore import EventStore
from tests.support import services
from tests.support.intruder import Rows
from tests.support.system import System, wait_until

# The processes that write an owner's store: its worker, the web face (intake's and responses' faces) and the relay.
WRITERS = {"intake": ("intake", "web", "relay"), "routing": ("routing", "relay"),
           "responses": ("responses", "web", "relay")}


def destroy(system: System, service: str) -> None:
    """The store is gone: its SQLite file deleted, or its PostgreSQL database dropped and created empty."""
    cached = system._stores.pop(service, None)
    if cached is not None:
        cached.engine.dispose()
    url = make_url(system.settings.database_url(service))
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    services.drop_pg_database(url.database)
    services.create_pg_database(url.database)
    code, output = system.kesah("migrate", service)  # an empty PostgreSQL database gets its tables first
    assert code == 0, output


def log(system: System, service: str) -> list[dict]:
    store = stores.reader_store(system.settings, service)
    try:
        return [e.to_message() for e in store.read()]
    except sa.exc.DBAPIError:  # no tables yet: the store was just created
        return []
    finally:
        store.engine.dispose()


def outbox(system: System, service: str) -> int:
    store = stores.reader_store(system.settings, service)
    try:
        return store.outbox_size()
    finally:
        store.engine.dispose()


def journaled(system: System, service: str, count: int) -> None:
    """Publicview's journal (and so the archive before it) holds the owner's first ``count`` events."""
    wait_until(lambda: next((s["received"] for s in system.http.get("/api/status").json()["sources"]
                             if s["source"] == service), 0) >= count, 30, f"{service}'s events journaled")


def some_complaints(system: System, count: int, answered: int) -> list[str]:
    codes = [system.submit(title=f"Jalan berlubang nomor {i}", body=f"Jalan berlubang besar di gang {i}.")
             ["tracking_code"] for i in range(count)]
    for code in codes[:answered]:
        agency = system.routed(code)["agency"]["id"]
        assert system.answer(code, agency, "Lubang sudah kami tambal.", status="dijawab").status_code == 201
    for code in codes:
        system.wait_public(code, lambda c: c["agency"] is not None)
    return codes


def lose_store(system: System, service: str, count: int, answered: int) -> tuple[list[str], list[dict]]:
    """Complaints (some answered) through the running system, then the owner's writers stopped and its
    store destroyed; returns the tracking codes and the owner's log as it was."""
    codes = some_complaints(system, count, answered)
    before = log(system, service)
    journaled(system, service, len(before))
    system.stop(*WRITERS[service])
    destroy(system, service)
    return codes, before


@pytest.mark.parametrize("origin", ["archive", "publicview"])
def test_drill_3_intake_restored_from_a_copy_continues_from_its_head(
    make_system: Callable[..., System], origin: str,
) -> None:
    system = make_system().start()
    codes, before = lose_store(system, "intake", 6, answered=2)
    code, output = system.kesah("restore", "intake", "--from", origin)
    assert code == 0, output
    assert f"restored {len(before)} event(s)" in output, output
    assert f"verified before writing: intake in {ORIGIN_NAMES[origin]}: ok" in output, output
    assert "restore complete" in output, output
    assert log(system, "intake") == before  # ids, positions, hashes, signatures as they were
    assert outbox(system, "intake") == 0  # already on the broker: not published again

    code, output = system.kesah("verify", "intake")
    assert code == 0, output
    code, output = system.kesah("restore", "intake", "--from", origin)  # safe to re-run
    assert code == 0 and "restored 0 event(s)" in output, output

    system.start(*WRITERS["intake"])
    new = system.submit(title="Lampu jalan mati", body="Lampu jalan mati di gang mawar.")["tracking_code"]
    assert new not in codes
    system.wait_public(new, lambda c: c["agency"] is not None)
    after = log(system, "intake")
    assert after[:len(before)] == before
    assert after[len(before)]["position"] == len(before) + 1
    assert after[len(before)]["prev_hash"] == before[-1]["hash"]
    assert after[len(before)]["payload"]["tracking_code"] == new
    # The restored complaints are intake's again (erasure finds them), and the whole system verifies.
    code, output = system.kesah("erase", codes[0])
    assert code == 0, output
    code, output = system.kesah("verify", "all")
    assert code == 0, output


def test_routing_restored_from_publicview_refuses_a_forked_store_and_keeps_routing(
    make_system: Callable[..., System],
) -> None:
    system = make_system().start()
    _, before = lose_store(system, "routing", 4, answered=1)
    # Started on an empty store, routing seeds its rules again: a new log that forks from the true one.
    system.start("routing")
    wait_until(lambda: len(log(system, "routing")) > 0, 30, "routing to seed its rules")
    system.stop("routing")
    code, output = system.kesah("restore", "routing", "--from", "publicview")
    assert code == 2, output
    assert "routing's store and publicview's journal disagree" in output, output
    assert "nothing was written" in output and "move the database aside" in output, output

    destroy(system, "routing")
    code, output = system.kesah("restore", "routing", "--from", "publicview")
    assert code == 0, output
    assert log(system, "routing") == before
    assert "routing's tables:" in output and "case(s) folded" in output, output

    system.start(*WRITERS["routing"])
    code = system.submit(title="Jalan berlubang di Jl. Mulawarman")["tracking_code"]
    routed = system.routed(code)  # the rules came back with the log
    assert routed["agency"]["id"] == "pupr"
    after = log(system, "routing")
    assert after[len(before)]["position"] == len(before) + 1
    assert after[len(before)]["prev_hash"] == before[-1]["hash"]
    code, output = system.kesah("verify", "all")
    assert code == 0, output


def test_a_store_holding_a_prefix_of_the_log_is_completed(make_system: Callable[..., System]) -> None:
    """An old backup: the first events only. Restore adds the rest; the backup's own rows stay."""
    system = make_system().start()
    first = system.submit(title="Jalan berlubang di gang satu")
    some_complaints(system, 3, answered=1)
    before = log(system, "intake")
    journaled(system, "intake", len(before))

    system.stop(*WRITERS["intake"])
    destroy(system, "intake")
    backup = stores.owner_store(system.settings, "intake")
    try:
        from kesah.contracts import RecordedEvent

        backup.restore([RecordedEvent(**e) for e in before[:1]])
        from services.intake.store import complaints
        from services.intake import domain

        with backup.engine.begin() as conn:
            conn.execute(complaints.insert().values(
                complaint_id=before[0]["payload"]["complaint_id"], tracking_code=first["tracking_code"],
                secret_hash=domain.secret_hash(first["secret"]), submitted_at=before[0]["occurred_at"]))
    finally:
        backup.engine.dispose()

    code, output = system.kesah("restore", "intake", "--from", "archive")
    assert code == 0, output
    assert "store before: position 1" in output and f"restored {len(before) - 1} event(s)" in output, output
    assert log(system, "intake") == before
    store = EventStore(stores.reader_store(system.settings, "intake").engine, "intake")
    try:
        with store.engine.connect() as conn:
            secrets = dict(conn.execute(sa.text("SELECT tracking_code, secret_hash FROM complaints")).all())
    finally:
        store.engine.dispose()
    assert secrets[first["tracking_code"]] == domain.secret_hash(first["secret"])  # the backup's row is kept
    assert len(secrets) == 4

    # A store someone edited is not a prefix of the log: refused, nothing written.
    rows = Rows(stores.reader_store(system.settings, "intake").engine, "events", "intake")
    try:
        rows.set(2, payload=json.dumps({**before[1]["payload"], "title": "Diubah"}))
    finally:
        rows.engine.dispose()
    code, output = system.kesah("restore", "intake", "--from", "archive")
    assert code == 2, output
    assert "position 2: changed" in output and "move the database aside" in output, output


def test_drill_2_publicview_destroyed_while_running_is_replayed_from_the_archive(
    make_system: Callable[..., System],
) -> None:
    """Drill 1 with the broker's archive as the only copy used: the same dump, byte for byte.

    Publicview's processes run on (they drop connections to a deleted
    database file, ``kesah.database``); self-heal is off so that the archive,
    not publicview's own catch-up from the owners, is what this drill proves.
    """
    system = make_system(extra_env={"KESAH_SELF_HEAL": "off"}).start()
    codes = some_complaints(system, 8, answered=4)
    for code in codes[:4]:
        system.wait_public(code, lambda c: c["responses"])
    for service in ("intake", "routing", "responses"):
        journaled(system, service, len(log(system, service)))
    code, dump_before = system.kesah("dump", "publicview")
    assert code == 0 and dump_before.count("\n") == len(codes), dump_before

    destroy(system, "publicview")
    code, output = system.kesah("replay", "publicview", "--from", "archive")
    assert code == 0, output
    assert "(archive)" in output and "projection lag 0" in output, output
    code, dump_after = system.kesah("dump", "publicview")
    assert code == 0
    assert dump_after == dump_before

    # The running site serves the replayed view and goes on with new complaints.
    assert system.public(codes[0])["responses"]
    new = system.submit(title="Lampu jalan mati", body="Lampu jalan mati di gang mawar.")["tracking_code"]
    system.wait_public(new, lambda c: c["agency"] is not None)
    code, output = system.kesah("verify", "all")
    assert code == 0, output


def test_responses_restored_from_the_archive_gives_agencies_their_case_files_back(
    make_system: Callable[..., System],
) -> None:
    system = make_system().start()
    codes, before = lose_store(system, "responses", 4, answered=2)
    agency = next(e["payload"]["agency_id"] for e in log(system, "routing")
                  if e["type"] == "ComplaintRouted" and e["payload"]["tracking_code"] == codes[2])
    code, output = system.kesah("restore", "responses", "--from", "archive")
    assert code == 0, output
    assert log(system, "responses") == before
    assert "4 case file(s) folded" in output, output
    # Tokens never enter an event: the agency gets a new one.
    code, token = system.kesah("agency", "token", agency)
    assert code == 0, token
    system.tokens[agency] = token.strip().splitlines()[-1]

    system.start(*WRITERS["responses"])
    listed = system.http.get("/api/agency/complaints",
                             headers={"authorization": f"Bearer {system.tokens[agency]}"}).json()["complaints"]
    statuses = {c["tracking_code"]: c["status"] for c in listed}
    assert statuses[codes[0]] == "dijawab" and statuses[codes[2]] == "diteruskan", statuses
    assert system.answer(codes[2], agency, "Sudah kami perbaiki.", status="dijawab").status_code == 201
    system.wait_public(codes[2], lambda c: c["responses"])
    after = log(system, "responses")
    assert after[len(before)]["position"] == len(before) + 1
    assert after[len(before)]["prev_hash"] == before[-1]["hash"]
    code, output = system.kesah("verify", "all")
    assert code == 0, output
