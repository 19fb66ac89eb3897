"""routing's nameko service: every submitted complaint gets an agency and a due date."""

from __future__ import annotations

import logging

from kesah import config, reference, stores
from kesah.consumer import accept, inbox
from kesah.contracts import RecordedEvent
from kesah.dependencies import Resource, SelfWatch
from kesah.logwatch import owner_watchdog
from kesah.eventstore import ConcurrencyError, EventStore
from kesah.signing import Keyring
from kesah.sourcelog import SourceLog

from . import domain, rules

log = logging.getLogger("kesah.routing")

CONSUMER = "routing"


class Routing:
    def __init__(self, store: EventStore, keyring: Keyring) -> None:
        self.store = store
        self.keyring = keyring
        self.reference = reference.load()
        self.rules = rules.seed_rules(self.reference)

    @classmethod
    def open(cls, settings: config.Settings) -> "Routing":
        return cls(stores.owner_store(settings, "routing"), stores.keyring(settings))

    def handle(self, event: RecordedEvent) -> None:
        if event.type != "ComplaintSubmitted":
            return
        with self.store.write() as conn:
            if self.store.handled(conn, CONSUMER, event.event_id):
                return
            routed = domain.route(event, self.rules, self.reference)
            try:
                self.store.append(conn, [routed], expected_version=0)
            except ConcurrencyError:
                # Routed already under another delivery of the same complaint.
                log.info("complaint %s is routed already", event.correlation_id)
            self.store.record_handled(conn, CONSUMER, event.event_id)


class RoutingService(SourceLog):
    name = "routing"

    routing = Resource(Routing.open)
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "routing"))

    @property
    def store(self) -> EventStore:  # type: ignore[override]
        return self.routing.store

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        self.routing.handle(accept(body, self.routing.keyring))
