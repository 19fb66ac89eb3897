"""3. The event bus: the outbox relay's events/s beside raw pika with asynchronous confirms.

intake's store is filled through ``EventStore.append`` (the code path every
submission takes); then the relay drains its outbox into a vhost of its
own, exactly as ``kesah serve relay`` does (``Relay.drain_once`` until the
outbox is empty). The baseline publishes the same events' bodies, already
in memory, to the same exchange with the same routing keys (so the broker
fans them out to the same queues), in windows of the relay's batch size,
with asynchronous publisher confirms: the broker and pika alone. Each is run
twice, alternating, and the better run counts (the machine is shared).
"""

from __future__ import annotations

import json
import time
import uuid

import pika

from bench.harness import Figure, Run
from kesah import broker, config, signing
from kesah.eventstore import EventStore
from kesah.relay import ConfirmingPublisher, Relay
from services.intake import domain
from tests.support.services import amqp_uri as amqp_uri_of

CASE = "3 relay"
TARGET = 0.5

SUBMISSION = domain.Submission(
    kind="keluhan", title="Jalan berlubang di Jl. Awang Long",
    body="Lubang besar di depan pasar, sudah dua minggu belum diperbaiki.", kelurahan="Bontang Baru",
    kecamatan="Bontang Utara", address="Jl. Awang Long", visibility="public", channel="web", reporter={},
)


def fill(store: EventStore, count: int, chunk: int = 1000) -> None:
    """``count`` submissions appended through the event store, ``chunk`` per transaction."""
    for start in range(0, count, chunk):
        batch = []
        for _ in range(min(chunk, count - start)):
            complaint_id = str(uuid.uuid4())
            batch.append(domain.complaint_submitted(SUBMISSION, complaint_id, domain.new_tracking_code()))
        with store.write() as conn:
            store.append(conn, batch)


def relay_pass(store: EventStore, amqp_uri: str, settings: config.Settings) -> tuple[int, float]:
    relay = Relay([store], amqp_uri, batch=settings.relay_batch, delivery_limit=settings.delivery_limit)
    publisher = ConfirmingPublisher(amqp_uri, settings.delivery_limit)
    try:
        started = time.perf_counter()
        while relay.drain_once(publisher):
            pass
        return relay.published, time.perf_counter() - started
    finally:
        publisher.close()


def raw_pass(bodies: list[tuple[str, str, bytes]], amqp_uri: str, window: int) -> tuple[int, float]:
    """Publish (exchange, routing key, body) with async confirms, ``window`` in flight at a time."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()._impl
    state = {"confirmed": 0}

    def on_confirm(frame: pika.frame.Method) -> None:
        state["confirmed"] = max(state["confirmed"], frame.method.delivery_tag)

    channel.confirm_delivery(ack_nack_callback=on_confirm)
    connection.process_data_events(0)
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
    started = time.perf_counter()
    sent = 0
    for i in range(0, len(bodies), window):
        for exchange, key, body in bodies[i:i + window]:
            channel.basic_publish(exchange=exchange, routing_key=key, body=body, properties=properties)
            sent += 1
        while state["confirmed"] < sent:
            connection.process_data_events(time_limit=0.05)
    seconds = time.perf_counter() - started
    connection.close()
    return sent, seconds


def purge(amqp_uri: str) -> None:
    """Empty the inboxes between passes, so each pass meets the same broker state."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    for consumer in broker.SUBSCRIPTIONS:
        channel.queue_purge(broker.inbox_queue(consumer))
    connection.close()


def refill_outbox(store: EventStore) -> None:
    from kesah import database
    from kesah.eventstore import events, outbox

    with database.writing(store.engine) as conn:
        conn.execute(outbox.insert().from_select(["position"], events.select().with_only_columns(events.c.position)))


def run(r: Run) -> None:
    amqp_uri = amqp_uri_of(r.vhost())
    settings = config.load({})
    store = EventStore.from_url(f"sqlite:///{r.work / 'relay' / 'intake.db'}", "intake", signing.Signer.generate("intake"))
    store.create_schema()
    r.on_close(store.engine.dispose)
    count = r.sizes.relay_events
    fill(store, count)
    bodies = [(broker.events_exchange(e.source), e.type,
               json.dumps(e.to_message(), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
              for e in store.read()]
    relayed = raw = 0.0
    for attempt in range(2):
        if attempt:
            refill_outbox(store)
        moved, seconds = relay_pass(store, amqp_uri, settings)
        assert moved == count, f"the relay moved {moved} of {count} events"
        relayed = max(relayed, moved / seconds)
        purge(amqp_uri)
        sent, seconds = raw_pass(bodies, amqp_uri, settings.relay_batch)
        raw = max(raw, sent / seconds)
        purge(amqp_uri)
    r.add(Figure(CASE, f"relay, {count:,} events", relayed, "events/s", raw, "raw pika async confirms",
                 target=TARGET))
