"""The outbox relay: events committed to a store reach RabbitMQ, in order, at least once.

It reads outbox rows in position order, publishes a batch to the owner's
events exchange with asynchronous publisher confirms, waits until the broker
has confirmed the whole batch, then deletes those outbox rows. A broker
outage only delays this: rows stay until confirmed. A crash between confirm
and delete publishes a batch twice; consumers deduplicate on the event id.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Sequence

import pika
import pika.exceptions
from sqlalchemy.exc import OperationalError

from . import broker
from .contracts import RecordedEvent
from .eventstore import EventStore

log = logging.getLogger("kesah.relay")

CONFIRM_TIMEOUT = 30.0


class NotConfirmed(Exception):
    """The broker refused or did not confirm a batch in time."""


class ConfirmingPublisher:
    """Publishes batches and waits for all their confirms at once.

    pika's BlockingChannel waits for each confirm in turn (~1k messages/s);
    registering our own confirm callback on the underlying channel lets a
    whole batch be in flight (~10k/s here).
    """

    def __init__(self, amqp_uri: str, delivery_limit: int) -> None:
        self.connection = broker.connect(amqp_uri, name="kesah-relay")
        channel = self.connection.channel()
        broker.declare_topology(channel, delivery_limit)
        self._channel = channel._impl  # the asynchronous channel under the blocking one
        self._sent = 0
        self._confirmed = 0
        self._refused = False
        self._channel.confirm_delivery(ack_nack_callback=self._on_confirm)
        self.connection.process_data_events(0)

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            self._refused = True
        self._confirmed = max(self._confirmed, method.delivery_tag)

    def publish(self, batch: Sequence[RecordedEvent]) -> None:
        self._refused = False
        for event in batch:
            self._channel.basic_publish(
                exchange=broker.events_exchange(event.source),
                routing_key=event.type,
                body=json.dumps(event.to_message(), ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                properties=pika.BasicProperties(
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=event.event_id,
                    type=event.type,
                ),
            )
            self._sent += 1
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self._confirmed < self._sent:
            if time.monotonic() > deadline:
                raise NotConfirmed(f"broker did not confirm {self._sent - self._confirmed} events in time")
            self.connection.process_data_events(time_limit=0.05)
        if self._refused:
            raise NotConfirmed("broker refused part of the batch")

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception:  # closing a broken connection: nothing left to save
            pass


class Relay:
    """Drains the outboxes of one or more stores."""

    def __init__(
        self,
        stores: Sequence[EventStore],
        amqp_uri: str,
        *,
        batch: int = 500,
        idle_seconds: float = 0.05,
        delivery_limit: int = 10,
    ) -> None:
        self.stores = list(stores)
        self.amqp_uri = amqp_uri
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.delivery_limit = delivery_limit
        self.stopping = threading.Event()
        self.published = 0
        self.connected = False

    def drain_once(self, publisher: ConfirmingPublisher) -> int:
        moved = 0
        for store in self.stores:
            events = store.pending(self.batch)
            if events:
                publisher.publish(events)
                store.mark_published([e.position for e in events])
                moved += len(events)
        self.published += moved
        return moved

    def run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            publisher = None
            try:
                publisher = ConfirmingPublisher(self.amqp_uri, self.delivery_limit)
                self.connected = True
                log.info("relay connected; draining %s", ", ".join(s.source for s in self.stores))
                backoff = 0.5
                while not self.stopping.is_set():
                    if self.drain_once(publisher) == 0:
                        publisher.connection.process_data_events(0)
                        self.stopping.wait(self.idle_seconds)
            except (pika.exceptions.AMQPError, NotConfirmed, OSError, OperationalError) as exc:
                self.connected = False
                log.warning("relay cannot publish (%s); events wait in the outbox; retrying in %.1fs", exc, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if publisher is not None:
                    publisher.close()

    def stop(self) -> None:
        self.stopping.set()

    def probes(self):  # type: ignore[no-untyped-def]
        """/readyz: connected to the broker, stores reachable; /metrics: what moved, what waits."""
        from .health import Probes, database_check
        from .metrics import Family

        checks = {"broker": lambda: None if self.connected else "broker: not connected"}
        for store in self.stores:
            checks[f"store {store.source}"] = database_check(store.engine)

        def collect() -> list[Family]:
            pending = Family("kesah_outbox_pending", "gauge", "events committed but not yet confirmed by the broker")
            for store in self.stores:
                pending.add(store.outbox_size(), store=store.source)
            return [
                Family("kesah_relay_published_total", "counter", "events the relay published with confirms").add(
                    self.published),
                Family("kesah_relay_connected", "gauge", "1 while connected to the broker").add(self.connected),
                pending,
            ]

        return Probes(checks, collect)
