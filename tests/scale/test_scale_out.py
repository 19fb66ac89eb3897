"""Scale-out with real processes: competing consumers on one queue, one writer per store.

Two routing workers, two responses workers and two publicview consumers on
one broker and PostgreSQL take 1,000 complaints. Every event is handled
exactly once per consuming service, both workers of each service do part of
the work, and the public projection equals the canonical dump of a run with
a single publicview consumer over the same log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from kesah import broker, config, database
from kesah.eventstore import handled
from services.publicview.store import PublicView, journal
from tests.support import services
from tests.support.system import System, wait_until

COMPLAINTS = 1000
ANSWERS = 100
REPLICAS = ("routing#2", "responses#2", "publicview#2")
CONSUMERS = ("routing", "responses", "publicview")

# Different words, kinds and places, so routing sends them to different agencies.
TOPICS = (
    {"kind": "keluhan", "title": "Jalan berlubang nomor {i}", "body": "Jalan berlubang besar, sudah dua minggu.",
     "kelurahan": "Bontang Baru"},
    {"kind": "keluhan", "title": "Sampah menumpuk nomor {i}", "body": "Sampah tidak diangkut sejak minggu lalu.",
     "kelurahan": "Api-Api"},
    {"kind": "keluhan", "title": "Lampu jalan mati nomor {i}", "body": "Lampu jalan di simpang mati total.",
     "kelurahan": "Belimbing"},
    {"kind": "pertanyaan", "title": "Cara mengurus KTP nomor {i}", "body": "Bagaimana mengurus e-KTP yang hilang?",
     "kelurahan": "Bontang Baru"},
)


def submit_all(system: System, count: int) -> list[str]:
    local = threading.local()

    def submit(i: int) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=str(system.http.base_url), timeout=60)
        topic = TOPICS[i % len(TOPICS)]
        body = {**topic, "title": topic["title"].format(i=i), "address": f"RT {i % 40}"}
        response = local.client.post("/api/complaints", json=body)
        assert response.status_code == 201, response.text
        return response.json()["tracking_code"]

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(submit, range(count)))


def subscribed(system: System, consumer: str) -> set[str]:
    """Ids of every event in the owners' stores that the consumer's inbox receives."""
    if consumer == "publicview":
        return {e.event_id for source in config.OWNERS for e in system.events(source)}
    wanted = set(broker.SUBSCRIPTIONS[consumer])
    return {e.event_id for source in config.OWNERS for e in system.events(source) if (source, e.type) in wanted}


def tracked(system: System, consumer: str) -> list[str]:
    """The consumer's tracking rows (publicview's journal is its tracking)."""
    if consumer == "publicview":
        engine = database.create_engine(system.settings.database_url("publicview"))
        query = sa.select(journal.c.event_id)
    else:
        engine = database.create_engine(system.settings.database_url(consumer))
        query = sa.select(handled.c.event_id).where(handled.c.consumer == consumer)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).scalars())
    finally:
        engine.dispose()


def quiet(system: System) -> bool:
    """Nothing left to publish, nothing waiting or in flight in any inbox."""
    if any(system.store(s).outbox_size() for s in config.OWNERS):
        return False
    for consumer in CONSUMERS:
        info = services.queue_info(system.vhost, broker.inbox_queue(consumer))
        if info.get("messages", 1) or info.get("messages_unacknowledged", 1):
            return False
    return True


def settled(system: System) -> bool:
    """Quiet twice, a second apart (a handler may still be publishing what it just decided)."""
    if not quiet(system):
        return False
    time.sleep(1.0)
    return quiet(system)


def acks_per_consumer(vhost: str, queue: str) -> list[int]:
    """Messages acknowledged on each channel consuming from a queue (one channel per worker process)."""
    counts = []
    for consumer in services.management("GET", f"/api/consumers/{quote(vhost, safe='')}"):  # type: ignore[union-attr]
        if consumer["queue"]["name"] != queue:
            continue
        channel = services.management("GET", f"/api/channels/{quote(consumer['channel_details']['name'], safe='')}")
        counts.append(int((channel.get("message_stats") or {}).get("ack", 0)))  # type: ignore[union-attr]
    return counts


def dump(system: System) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "kesah", "dump", "publicview"], env=system.env,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.splitlines()


@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_two_workers_per_consumer_handle_every_event_once(make_system: Callable[..., System]) -> None:
    # Four handlers per worker: nine processes stay well inside PostgreSQL's 100 connections,
    # which the machine's other test runs share.
    system = make_system(postgres=True, extra_env={"KESAH_MAX_WORKERS": "4"}).start()
    system.start(*REPLICAS)
    for consumer in CONSUMERS:
        wait_until(lambda: services.queue_info(system.vhost, broker.inbox_queue(consumer)).get("consumers") == 2,
                   60, f"two workers consuming {consumer}'s inbox")

    started = time.monotonic()
    codes = submit_all(system, COMPLAINTS)
    submitted = time.monotonic() - started
    wait_until(lambda: len(system.events("routing", ["ComplaintRouted"])) == COMPLAINTS, 300, "every complaint routed")
    routed = {e.payload["tracking_code"]: e.payload["agency_id"] for e in system.events("routing", ["ComplaintRouted"])}
    wait_until(lambda: settled(system), 300, "the system to settle")
    for code in codes[:ANSWERS]:
        system.assigned(code, routed[code], timeout=60)
        answer = system.answer(code, routed[code], "Sudah kami tindak lanjuti hari ini.", status="dijawab")
        assert answer.status_code == 201, answer.text
    wait_until(lambda: settled(system), 300, "the system to settle after the answers")
    print(f"\n{COMPLAINTS} complaints submitted in {submitted:.1f}s ({COMPLAINTS / submitted:.0f}/s); "
          f"all settled {time.monotonic() - started:.1f}s after the first")

    # One route per complaint: no complaint was decided twice by the two routing workers.
    routes = system.events("routing", ["ComplaintRouted"])
    assert len(routes) == COMPLAINTS == len({e.stream_id for e in routes})
    assert len(system.events("responses", ["ResponsePosted"])) == ANSWERS
    for consumer in CONSUMERS:
        rows = tracked(system, consumer)
        assert len(rows) == len(set(rows)), f"{consumer} tracked an event twice"
        expected = subscribed(system, consumer)
        if consumer == "publicview":
            assert set(rows) == expected, "publicview's journal differs from the owners' logs"
        else:
            # A handler records the events it acts on; none it acts on is missing, none is foreign.
            assert set(rows) <= expected
            assert {e.event_id for e in system.events("intake" if consumer == "routing" else "routing",
                                                       ["ComplaintSubmitted" if consumer == "routing"
                                                        else "ComplaintRouted"])} <= set(rows)
        acks = wait_until(lambda: (lambda a: a if len(a) == 2 and sum(a) >= len(expected) else None)(
            acks_per_consumer(system.vhost, broker.inbox_queue(consumer))), 30, f"{consumer}'s channel statistics")
        print(f"{consumer}: {len(expected)} events, acknowledged per worker {acks}")
        assert min(acks) >= len(expected) // 10, f"one {consumer} worker did (almost) nothing: {acks}"

    scaled = dump(system)
    assert len(scaled) == COMPLAINTS

    # The same log, replayed into a system with a single publicview consumer.
    single = make_system(extra_env={"KESAH_KEYS_DIR": str(system.settings.keys_dir)})
    for source in config.OWNERS:
        single.store(source).restore(system.store(source).read(), publish=True)
    single.start("publicview", "relay")
    total = sum(system.store(s).count() for s in config.OWNERS)
    view = PublicView(database.create_engine(single.settings.database_url("publicview")))
    try:
        wait_until(lambda: view.journal_size() == total, 300, f"{total} events journaled by the single consumer")
    finally:
        view.engine.dispose()
    assert dump(single) == scaled
