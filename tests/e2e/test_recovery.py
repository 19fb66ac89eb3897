"""Recovery by replay, on the real system: publicview's database destroyed while everything runs,
brought back from the owners' logs; a view as it stood at a moment; a publicview that was down
or is new catches up by itself."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
from typing import Any, Callable
from urllib.parse import quote

import pytest

from kesah import database, schema
from tests.support import services
from tests.support.system import System, wait_until

COMPLAINTS = int(os.environ.get("KESAH_DRILL_COMPLAINTS", "500"))

TOPICS = [  # (title, body) that the seeded rules route to different agencies
    ("Jalan berlubang", "Jalan berlubang besar di depan pasar, sudah dua minggu."),
    ("Sampah menumpuk", "Sampah tidak diangkut seminggu di pinggir jalan."),
    ("Lampu jalan mati", "Lampu penerangan jalan mati sejak kemarin malam."),
    ("Drainase tersumbat", "Saluran air tersumbat, banjir setiap hujan."),
]


def dump(system: System) -> list[str]:
    code, output = system.kesah("dump", "publicview")
    assert code == 0, output
    return output.splitlines()


def documents(system: System) -> dict[str, dict[str, Any]]:
    return {d["tracking_code"]: d for d in map(json.loads, dump(system))}


def caught_up(system: System) -> bool:
    """The journal holds every owner's whole log and the projection is at the journal's head."""
    from services.publicview.store import PublicView

    view = PublicView.open(system.settings)
    try:
        fresh = view.freshness()
    finally:
        view.engine.dispose()
    heads = {s: system.store(s).head().position for s in ("intake", "routing", "responses")}
    received = {s["source"]: s["received"] for s in fresh["sources"]}
    return all(received.get(s) == h for s, h in heads.items()) and fresh["projection_lag"] == 0


def populate(system: System, n: int) -> list[str]:
    """n complaints, routed, each answered by its agency: through the HTTP API, a few at a time."""
    def submit(i: int) -> str:
        title, body = TOPICS[i % len(TOPICS)]
        return system.submit(title=f"{title} nomor {i}", body=body)["tracking_code"]

    def answer(code: str) -> None:
        agency = system.wait_public(code, lambda c: c.get("agency") is not None, 60)["agency"]["id"]
        system.assigned(code, agency, 60)
        response = system.answer(code, agency, f"Sudah kami tangani ({code}).")
        assert response.status_code == 201, response.text

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(submit, range(n)))
        list(pool.map(answer, codes))
    return codes


def destroy_publicview_database(system: System) -> None:
    """What the attacker did: the database is gone. SQLite: its files; PostgreSQL: the database,
    recreated empty at the schema (as the migration Job does) so only the data is lost."""
    url = system.settings.database_url("publicview")
    if database.is_sqlite(url):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    name = url.rsplit("/", 1)[1]
    services.drop_pg_database(name)
    services.create_pg_database(name)
    engine = database.create_engine(url)
    try:
        schema.upgrade(engine, schema.DATABASES["publicview"])
    finally:
        engine.dispose()


def test_drill_1_publicview_destroyed_while_running_is_replayed_from_the_owners(
    make_system: Callable[..., System],
) -> None:
    # Self-heal off: the operator's command is what this drill proves.
    system = make_system(extra_env={"KESAH_SELF_HEAL": "off"}).start()
    codes = populate(system, COMPLAINTS)
    wait_until(lambda: sum('"dijawab"' in line for line in dump(system)) == COMPLAINTS, 120, "every answer public")
    wait_until(lambda: caught_up(system), 60, "publicview caught up with the owners")
    before = dump(system)
    assert len(before) == COMPLAINTS and all('"status":"dijawab"' in line for line in before)

    destroy_publicview_database(system)
    code, output = system.kesah("replay", "publicview", "--from", "sources")
    assert code == 0, output
    after = dump(system)
    assert after == before
    # The closing report: each owner's head, what the journal holds of it, no lag.
    assert f"rebuilt {COMPLAINTS} complaints" in output
    for line in output.splitlines():
        if line.split()[:1] and line.split()[0] in ("intake", "routing", "responses"):
            source, head, journaled, lag = line.split()[:4]
            assert head == journaled and lag == "0", line
    assert "projection lag 0" in output

    # The running site serves the restored view, and goes on with new complaints.
    assert system.public(codes[0])["status"] == "dijawab"
    new = system.submit(title="Jalan rusak setelah pemulihan")["tracking_code"]
    system.wait_public(new, timeout=30)
    code, again = system.kesah("replay", "publicview", "--from", "sources")  # safe to re-run
    assert code == 0 and "journaled 0 event(s)" in again, again
    assert len(dump(system)) == COMPLAINTS + 1


def answered_at(system: System, code: str) -> list[str]:
    return sorted(e.occurred_at for e in system.events("responses", ["ResponsePosted"])
                  if e.payload["tracking_code"] == code)


def test_drill_4_until_a_time_between_two_answers_shows_the_first_not_the_second(
    make_system: Callable[..., System],
) -> None:
    system = make_system().start()
    code = system.submit()["tracking_code"]
    agency = system.routed(code)["agency"]["id"]
    assert system.answer(code, agency, "Sedang kami periksa di lapangan.", status="diproses").status_code == 201
    system.wait_public(code, lambda c: len(c["responses"]) == 1)
    assert system.answer(code, agency, "Lubang sudah kami tambal.", status="dijawab").status_code == 201
    system.wait_public(code, lambda c: len(c["responses"]) == 2)
    first, second = answered_at(system, code)
    t1, t2 = (dt.datetime.fromisoformat(t) for t in (first, second))
    between = (t1 + (t2 - t1) / 2).astimezone(dt.timezone(dt.timedelta(hours=8)))  # WITA, as an operator types it

    code_, output = system.kesah("rebuild", "publicview", "--until", between.isoformat())
    assert code_ == 0, output
    assert "PINNED at time" in output
    then = system.public(code)
    assert [r["body"] for r in then["responses"]] == ["Sedang kami periksa di lapangan."]
    assert then["status"] == "diproses"
    # Pinned: a complaint submitted now is journaled, not shown, until a rebuild without --until.
    later = system.submit(title="Lampu jalan mati di Jl. Mawar")["tracking_code"]
    wait_until(lambda: caught_up_journal(system, later), 30, "the new complaint journaled")
    assert system.public(later) is None
    assert system.public(code)["status"] == "diproses"
    assert 'id="disematkan"' in system.http.get("/status").text

    code_, output = system.kesah("replay", "publicview", "--from", "sources", "--until", between.isoformat())
    assert code_ == 0, output
    assert system.public(code)["status"] == "diproses"

    code_, output = system.kesah("rebuild", "publicview")
    assert code_ == 0 and "PINNED" not in output, output
    now = system.public(code)
    assert [r["body"] for r in now["responses"]] == ["Sedang kami periksa di lapangan.", "Lubang sudah kami tambal."]
    assert system.public(later) is not None
    assert 'id="disematkan"' not in system.http.get("/status").text


def caught_up_journal(system: System, tracking_code: str) -> bool:
    from services.publicview.recovery import contiguous
    from services.publicview.store import PublicView

    view = PublicView.open(system.settings)
    try:
        return contiguous(view).get("intake", 0) >= system.store("intake").head().position
    finally:
        view.engine.dispose()


@pytest.mark.parametrize("until, says", [
    ("kemarin", "neither a journal position nor an ISO 8601 time"),
    ("2026-11-25T10:00:00", "needs its UTC offset"),
])
def test_bad_arguments_get_one_sentence_and_exit_2(make_system: Callable[..., System], until: str, says: str) -> None:
    system = make_system()
    code, output = system.kesah("rebuild", "publicview", "--until", until)
    assert code == 2 and says in output and "Traceback" not in output, output
    code, output = system.kesah("replay", "publicview", "--from", "kemarin")
    assert code == 2 and "--from must be 'sources' or 'archive'" in output, output
    # The owners are not running: replay from sources says so, in one sentence.
    code, output = system.kesah("replay", "publicview", "--from", "sources")
    assert code == 2 and "did not answer over RPC" in output and "--from archive" in output, output


def journaled(system: System) -> int:
    from services.publicview.store import PublicView

    view = PublicView.open(system.settings)
    try:
        return view.journal_size()
    finally:
        view.engine.dispose()


def owners_events(system: System) -> int:
    return sum(system.store(s).head().position for s in ("intake", "routing", "responses"))


def test_a_publicview_that_was_down_catches_up_and_a_new_one_fills_itself(
    make_system: Callable[..., System],
) -> None:
    system = make_system(extra_env={"KESAH_SELF_HEAL": "off"}).start()
    first = system.submit()["tracking_code"]
    system.routed(first)

    system.stop("publicview")
    # Its inbox loses what was sent meanwhile (purged): only the check against the owners' heads
    # can bring that back. What comes after waits in the inbox as usual.
    lost = system.submit(title="Sampah menumpuk di pasar", body="Sampah tidak diangkut seminggu.")["tracking_code"]
    wait_until(lambda: any(e.payload.get("tracking_code") == lost for e in system.events("routing")), 30, "routed")
    inbox = "publicview.inbox"
    wait_until(lambda: services.ready_messages(system.env["KESAH_AMQP_URI"], inbox)
               == owners_events(system) - journaled(system), 30, "every new event queued for publicview")
    services.management("DELETE", f"/api/queues/{quote(system.vhost, safe='')}/{inbox}/contents")
    queued = system.submit(title="Lampu jalan mati", body="Lampu penerangan jalan mati.")["tracking_code"]
    system.start("publicview")
    for code in (first, lost, queued):
        system.wait_public(code, lambda c: c.get("agency") is not None, 60)
    assert "caught up with intake" in system.logs("publicview")

    # A new instance on an empty database: nobody runs a command.
    system.stop("publicview")
    destroy_publicview_database(system)
    system.start("publicview")
    wait_until(lambda: (r := system.probe("publicview", "/healthz")) is not None and r.status_code == 200, 30,
               "the new publicview to start")
    for code in (first, lost, queued):
        system.wait_public(code, lambda c: c.get("agency") is not None, 60)
    wait_until(lambda: caught_up(system), 60, "the new publicview caught up with the owners")


def test_a_journal_missing_events_is_refilled_from_the_owners_by_itself(make_system: Callable[..., System]) -> None:
    import sqlalchemy as sa

    system = make_system(extra_env={"KESAH_VERIFY_INTERVAL": "0.5"}).start()
    codes = [system.submit(title=f"Jalan berlubang nomor {i}")["tracking_code"] for i in range(3)]
    for code in codes:
        system.routed(code)
    wait_until(lambda: caught_up(system), 30, "publicview caught up")
    gone = system.events("intake", ["ComplaintSubmitted"])[0]
    with system.store("publicview").engine.begin() as conn:  # the intruder, with the database's owner's rights
        conn.execute(sa.text("DELETE FROM journal WHERE event_id = :id"), {"id": gone.event_id})

    def back() -> bool:
        with system.store("publicview").engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM journal WHERE event_id = :id"),
                                {"id": gone.event_id}).scalar() == 1

    wait_until(back, 60, "the deleted event journaled again")
    assert "refilling the journal from the owners' logs" in system.logs("publicview")
    wait_until(lambda: system.kesah("verify", "publicview")[0] == 0, 60, "the journal and projection to verify")
    assert system.public(gone.payload["tracking_code"])["title"] == gone.payload["title"]
