"""An owning service watching its own log (run by its nameko worker).

Every round verifies the whole log: the prefix verified before is re-hashed
against its anchor (cheap), new events get every check (signature, schema).
The head reached is remembered, so a log that loses its tail is caught too.
The store is never changed here: the alert and ``/readyz`` carry the
verdict and the command an operator runs.
"""

from __future__ import annotations

from typing import Any

from . import broker, config, database, health, signing, stores, verify
from .alerts import Alerter
from .eventstore import EventStore, Head
from .metrics import Family
from .watch import Finding, Watchdog, cooperate


def owner_remedy(source: str) -> str:
    return (f"{source}'s log is never changed automatically. Its genuine copies are publicview's journal "
            f"and the broker's archive: move the damaged database aside, then run "
            f"'kesah restore {source} --from publicview' (or '--from archive').")


class LogIntegrity:
    """The ``integrity`` check of an owner: its log verifies from position 1 to the head."""

    name = "integrity"

    def __init__(self, store: EventStore, keyring: signing.Keyring) -> None:
        self.store = store
        self.keyring = keyring
        self.anchor: verify.Anchor | None = None
        self.reached: Head | None = None
        self.last: verify.LogReport | None = None
        self.failures = 0

    def round(self) -> Finding:
        report = verify.verify_store(self.store, self.keyring, anchor=self.anchor, expect=self.reached,
                                     pause=cooperate)
        self.last = report
        if report.ok:
            self.anchor, self.reached = report.anchor, report.head
            return Finding(None, report.to_json())
        self.failures += 1
        return Finding(report.summary(), {**report.to_json(), "remedy": owner_remedy(self.store.source)})

    def families(self) -> list[Family]:
        source = self.store.source
        families = [
            Family("kesah_integrity_failures_total", "counter", "verification rounds that found a problem").add(
                self.failures, store=source),
        ]
        if self.last is not None:
            families += [
                Family("kesah_integrity_ok", "gauge", "1 when the log verified in the last round").add(
                    self.last.ok, store=source),
                Family("kesah_log_head_position", "gauge", "position of the last verified event").add(
                    self.last.head.position, store=source),
                Family("kesah_log_events_verified", "gauge", "events checked in the last round").add(
                    self.last.checked, store=source),
                Family("kesah_verify_seconds", "gauge", "how long the last verification took").add(
                    self.last.seconds, store=source),
            ]
        try:
            pending = self.store.outbox_size()
        except Exception:  # the store check reports an unreachable database
            pending = float("nan")
        families.append(Family("kesah_outbox_pending", "gauge", "events not yet confirmed by the broker").add(
            pending, store=source))
        return families


def owner_watchdog(settings: config.Settings, service: str) -> Watchdog:
    # A store of its own with a small pool: the handlers' pool is for the handlers.
    store = EventStore(database.create_engine(settings.database_url(service), small=True), service)
    watches: list[Any] = [LogIntegrity(store, stores.keyring(settings))]
    return Watchdog(
        service,
        store.engine,
        watches,
        Alerter(service, settings.alert_webhook),
        settings.verify_interval,
        checks={"store": health.database_check(store.engine),
                "broker": broker.BrokerCheck(settings.amqp_uri, service)},
    )
