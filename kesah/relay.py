"""The outbox relay: events committed to a store reach RabbitMQ, in order, at least once.

It reads outbox rows in position order, publishes a batch to the owner's
events exchange with asynchronous publisher confirms, waits until the broker
has confirmed the whole batch, then deletes those outbox rows. A broker
outage only delays this: rows stay until confirmed. A crash between confirm
and delete publishes a batch twice; consumers deduplicate on the event id.

What the broker confirmed is remembered per store until the store has
recorded it: when that delete fails (a full disk, the database away), the
relay retries the delete, never the publish, so a confirmed event is not
published again while the relay runs (the broker's archive stream keeps
every message it gets, duplicates included). A failing store, or broker,
is retried after a wait that doubles up to ``KESAH_RELAY_RETRY_MAX_SECONDS``
(the broker: up to 5 s); the other stores' outboxes keep flowing meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Iterable, Sequence

import pika
import pika.exceptions
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

from . import broker, database
from .alerts import Alerter
from .contracts import RecordedEvent
from .eventstore import EventStore

log = logging.getLogger("kesah.relay")

CONFIRM_TIMEOUT = 30.0
FIRST_RETRY_SECONDS = 0.5
# Reconnecting costs the broker little and a broker back from an outage should get the backlog soon.
BROKER_RETRY_MAX_SECONDS = 5.0
STORE_ERRORS = (DBAPIError, PoolTimeout)


class NotConfirmed(Exception):
    """The broker refused or did not confirm a batch in time; ``confirmed``: the tags it did confirm."""

    def __init__(self, message: str, confirmed: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.confirmed = frozenset(confirmed)


class Backoff:
    """Waits between attempts: doubling from ``first`` up to ``cap``; a success starts again. Pure."""

    def __init__(self, first: float = FIRST_RETRY_SECONDS, cap: float = 30.0) -> None:
        self.first = first
        self.cap = max(cap, first)
        self.failures = 0
        self.current = 0.0

    def failed(self) -> float:
        """Another failure: how long to wait before the next attempt."""
        self.current = min(self.first * 2 ** min(self.failures, 60), self.cap)
        self.failures += 1
        return self.current

    def succeeded(self) -> None:
        self.failures = 0
        self.current = 0.0


class Confirms:
    """Publisher confirms of one channel: which delivery tags the broker acked, which it nacked. Pure.

    The broker may confirm out of order and several tags at once
    (``multiple``), so the count of the highest tag is not "all before it".
    """

    def __init__(self) -> None:
        self.sent = 0
        self.outstanding: set[int] = set()
        self.nacked: set[int] = set()

    def published(self) -> int:
        self.sent += 1
        self.outstanding.add(self.sent)
        return self.sent

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        done = {t for t in self.outstanding if t <= tag} if multiple else {tag} & self.outstanding
        self.outstanding -= done
        return done

    def ack(self, tag: int, multiple: bool = False) -> None:
        self._settle(tag, multiple)

    def nack(self, tag: int, multiple: bool = False) -> None:
        self.nacked |= self._settle(tag, multiple)

    def acked(self, tags: Iterable[int]) -> set[int]:
        """Of these tags, the ones the broker has confirmed (acked, not nacked)."""
        return {t for t in tags if t <= self.sent and t not in self.outstanding and t not in self.nacked}


class StoreOutbox:
    """The relay's bookkeeping for one store's outbox. Pure (the caller does the I/O).

    ``confirmed``: positions the broker has confirmed that the store has not
    yet deleted from its outbox. They are deleted before anything else from
    that store is published, and never published again meanwhile.
    """

    def __init__(self, source: str, backoff: Backoff) -> None:
        self.source = source
        self.backoff = backoff
        self.confirmed: set[int] = set()
        self.retry_at = 0.0
        self.problem: str | None = None
        self.errors = 0

    def due(self, now: float) -> bool:
        return now >= self.retry_at

    def to_publish(self, pending: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """Of the store's pending events, those the broker has not confirmed."""
        return [e for e in pending if e.position not in self.confirmed]

    def confirm(self, positions: Iterable[int]) -> None:
        self.confirmed |= set(positions)

    def marked(self, positions: Iterable[int]) -> None:
        self.confirmed -= set(positions)

    def failed(self, now: float, problem: str) -> float:
        """The store refused a read or a write: wait before trying it again. Returns the wait."""
        wait = self.backoff.failed()
        self.retry_at = now + wait
        self.problem = problem
        self.errors += 1
        return wait

    def recovered(self) -> bool:
        """A round went through; True when it ends a failure (to resolve its alert)."""
        was = self.problem is not None
        self.backoff.succeeded()
        self.retry_at = 0.0
        self.problem = None
        return was


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
        self.confirms = Confirms()
        self._channel.confirm_delivery(ack_nack_callback=self._on_confirm)
        self.connection.process_data_events(0)

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        if isinstance(method, pika.spec.Basic.Nack):
            self.confirms.nack(method.delivery_tag, method.multiple)
        else:
            self.confirms.ack(method.delivery_tag, method.multiple)

    def publish(self, batch: Sequence[RecordedEvent]) -> None:
        """Publish and wait for the broker's confirms; NotConfirmed says which it did confirm."""
        tags: dict[int, RecordedEvent] = {}
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
            tags[self.confirms.published()] = event
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self.confirms.outstanding & tags.keys():
            if time.monotonic() > deadline:
                raise NotConfirmed(f"broker did not confirm {len(self.confirms.outstanding & tags.keys())} "
                                   "events in time", self._positions(tags))
            self.connection.process_data_events(time_limit=0.05)
        if self.confirms.nacked & tags.keys():
            raise NotConfirmed("broker refused part of the batch", self._positions(tags))

    def _positions(self, tags: dict[int, RecordedEvent]) -> list[int]:
        return [tags[t].position for t in self.confirms.acked(tags)]

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
        retry_max_seconds: float = 30.0,
        alerter: Alerter | None = None,
    ) -> None:
        self.stores = list(stores)
        self.amqp_uri = amqp_uri
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.delivery_limit = delivery_limit
        self.outboxes = {s.source: StoreOutbox(s.source, Backoff(cap=retry_max_seconds)) for s in self.stores}
        self.broker_backoff = Backoff(cap=min(retry_max_seconds, BROKER_RETRY_MAX_SECONDS))
        self.alerter = alerter or Alerter("relay")
        self.stopping = threading.Event()
        self.published = 0  # events confirmed by the broker
        self.sent = 0  # messages handed to the broker, a repeat counting again
        self.connected = False
        self.broker_errors = 0

    def drain_once(self, publisher: ConfirmingPublisher, now: float | None = None) -> int:
        """One round over the stores whose turn it is: how many events the broker confirmed.

        Broker errors propagate (the caller reconnects); a store's error makes that store wait.
        """
        now = time.monotonic() if now is None else now
        moved = 0
        for store in self.stores:
            outbox = self.outboxes[store.source]
            if not outbox.due(now):
                continue
            try:
                moved += self._drain(store, outbox, publisher)
            except STORE_ERRORS as exc:
                self._store_failed(store, outbox, exc, now)
                continue
            if outbox.recovered():
                log.info("relay: %s's store takes writes again; its outbox flows", store.source)
                self.alerter.resolve(f"outbox {store.source}", "the store records relayed events again")
        return moved

    def _drain(self, store: EventStore, outbox: StoreOutbox, publisher: ConfirmingPublisher) -> int:
        if outbox.confirmed:
            # Confirmed before and not yet recorded: record it, never publish it again.
            done = sorted(outbox.confirmed)
            store.mark_published(done)
            outbox.marked(done)
        events = outbox.to_publish(store.pending(self.batch))
        if not events:
            return 0
        self.sent += len(events)
        try:
            publisher.publish(events)
        except NotConfirmed as exc:
            outbox.confirm(exc.confirmed)
            self.published += len(exc.confirmed)
            raise
        positions = [e.position for e in events]
        outbox.confirm(positions)
        self.published += len(positions)
        self.broker_backoff.succeeded()
        store.mark_published(positions)
        outbox.marked(positions)
        return len(positions)

    def _store_failed(self, store: EventStore, outbox: StoreOutbox, exc: BaseException, now: float) -> None:
        where = database.label(store.engine.url)
        why = "disk full" if database.disk_full(exc) else "store unavailable"
        error = str(getattr(exc, "orig", exc)).splitlines()[0]
        if outbox.confirmed:
            problem = (f"{why}: cannot record {len(outbox.confirmed)} event(s) the broker confirmed as relayed in "
                       f"{store.source}'s store {where} ({error}); they are not published again")
        else:
            problem = f"{why}: cannot read {store.source}'s outbox in {where} ({error})"
        before = outbox.problem
        wait = outbox.failed(now, problem)
        log.warning("relay: %s; retrying in %.1fs", problem, wait)
        if before is None or before.split(":")[0] != problem.split(":")[0]:
            self.alerter.fire(f"outbox {store.source}", problem,
                              {"store": store.source, "path": where, "confirmed_unrecorded": len(outbox.confirmed),
                               "disk_full": why == "disk full"})

    def run(self) -> None:
        while not self.stopping.is_set():
            publisher = None
            try:
                publisher = ConfirmingPublisher(self.amqp_uri, self.delivery_limit)
                self.connected = True
                log.info("relay connected; draining %s", ", ".join(s.source for s in self.stores))
                while not self.stopping.is_set():
                    if self.drain_once(publisher) == 0:
                        publisher.connection.process_data_events(0)
                        self.stopping.wait(self.idle_seconds)
            except (pika.exceptions.AMQPError, NotConfirmed, OSError) as exc:
                self.connected = False
                self.broker_errors += 1
                wait = self.broker_backoff.failed()
                log.warning("relay cannot publish (%s); events wait in the outbox; retrying in %.1fs", exc, wait)
                self.stopping.wait(wait)
            finally:
                if publisher is not None:
                    publisher.close()

    def stop(self) -> None:
        self.stopping.set()

    def probes(self):  # type: ignore[no-untyped-def]
        """/readyz: connected to the broker, stores reachable and recording; /metrics: what moved, what waits."""
        from .diskspace import full_errors_family
        from .health import Probes, database_check
        from .metrics import Family

        checks = {"broker": lambda: None if self.connected else "broker: not connected"}
        for store in self.stores:
            checks[f"store {store.source}"] = database_check(store.engine)
            checks[f"outbox {store.source}"] = (lambda o: lambda: o.problem)(self.outboxes[store.source])

        def collect() -> list[Family]:
            pending = Family("kesah_outbox_pending", "gauge", "events committed but not yet confirmed by the broker")
            unrecorded = Family("kesah_relay_confirmed_unrecorded", "gauge",
                                "events the broker confirmed that the store has not yet recorded as relayed")
            errors = Family("kesah_relay_store_errors_total", "counter", "rounds a store failed the relay")
            retry = Family("kesah_relay_retry_seconds", "gauge", "the relay's current wait before retrying (0: none)")
            for store in self.stores:
                outbox = self.outboxes[store.source]
                try:
                    pending.add(store.outbox_size(), store=store.source)
                except STORE_ERRORS:
                    pending.add(float("nan"), store=store.source)
                unrecorded.add(len(outbox.confirmed), store=store.source)
                errors.add(outbox.errors, store=store.source)
                retry.add(outbox.backoff.current, store=store.source)
            return [
                Family("kesah_relay_published_total", "counter", "events the relay published with confirms").add(
                    self.published),
                Family("kesah_relay_sent_total", "counter",
                       "messages the relay handed to the broker (an event sent again counts again)").add(self.sent),
                Family("kesah_relay_broker_errors_total", "counter", "times the relay lost or could not reach the "
                       "broker").add(self.broker_errors),
                Family("kesah_relay_connected", "gauge", "1 while connected to the broker").add(self.connected),
                Family("kesah_relay_broker_retry_seconds", "gauge",
                       "the relay's current wait before reconnecting to the broker (0: none)").add(
                    self.broker_backoff.current),
                pending, unrecorded, errors, retry, full_errors_family(),
            ]

        return Probes(checks, collect)
