"""An owning service watching its own log (run by its nameko worker).

Every round verifies the whole log: the prefix verified before is re-hashed
against its anchor (cheap), new events get every check (signature, schema).
The head reached is remembered, so a log that loses its tail is caught too.
Nothing in the log is ever repaired here: the alert and ``/readyz`` carry
the verdict and the command an operator runs. The one thing the worker
adds, after a round that found the log intact, is a signed checkpoint
(``kesah.checkpoints``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from . import broker, checkpoints, config, database, diskspace, health, signing, stores, verify
from .alerts import Alerter
from .eventstore import ConcurrencyError, EventStore, Head, events
from .metrics import Family
from .watch import Finding, Watchdog, cooperate

log = logging.getLogger("kesah.logwatch")


def owner_remedy(source: str) -> str:
    return (f"{source}'s log is never changed automatically. Its genuine copies are publicview's journal "
            f"and the broker's archive: stop {source}'s processes (worker, web face, relay), move the damaged "
            f"database aside, run 'kesah restore {source} --from publicview' (or '--from archive'), start them "
            f"again (docs/runbook.md).")


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


class Checkpointer:
    """After a round that found the log intact, sign a checkpoint of it now and then.

    Only when the log grew since the last checkpoint and that one is older
    than ``interval`` seconds (or, for the first, the log's first event is).
    Two workers of one service cannot both add one: the checkpoints are a
    stream, appended with its expected version.
    """

    name = "checkpoint"

    def __init__(self, store: EventStore, integrity: LogIntegrity, interval: float) -> None:
        self.store = store
        self.integrity = integrity
        self.interval = interval
        self.signed = 0
        self.latest: dict[str, Any] | None = None

    def _latest(self) -> Any:
        with database.reading(self.store.engine) as conn:
            return conn.execute(
                sa.select(events.c.position, events.c.stream_version, events.c.occurred_at, events.c.payload)
                .where(events.c.stream_id == checkpoints.stream_of(self.store.source))
                .order_by(events.c.stream_version.desc()).limit(1)
            ).first()

    def _first_event_at(self) -> str | None:
        first = next(iter(self.store.read(limit=1)), None)
        return first.occurred_at if first else None

    def round(self) -> Finding:
        report = self.integrity.last
        if report is None or not report.ok or report.head.position == 0:
            return Finding(None, {"signed": None})
        latest = self._latest()
        if latest is not None and report.head.position <= latest.position:
            return Finding(None, {"signed": None})  # nothing new since the last checkpoint
        since = latest.occurred_at if latest is not None else self._first_event_at()
        if since is not None and _age(since) < self.interval:
            return Finding(None, {"signed": None})
        try:
            with self.store.write() as conn:
                (event,) = self.store.append(conn, [checkpoints.new_checkpoint(self.store.source, report.head)],
                                             expected_version=latest.stream_version if latest is not None else 0)
        except ConcurrencyError:
            return Finding(None, {"signed": None})  # another worker of this service just did
        self.signed += 1
        self.latest = {"position": report.head.position, "hash": report.head.hash, "at": event.position}
        log.info("%s: signed checkpoint of positions 1..%s (hash %s) at position %s", self.store.source,
                 report.head.position, report.head.hash[:16], event.position)
        return Finding(None, {"signed": self.latest})

    def families(self) -> list[Family]:
        families = [Family("kesah_checkpoints_signed_total", "counter", "checkpoints this worker signed").add(
            self.signed, store=self.store.source)]
        if self.latest is not None:
            families.append(Family("kesah_checkpoint_position", "gauge", "position the last checkpoint vouches for")
                            .add(self.latest["position"], store=self.store.source))
        return families


def _age(iso: str) -> float:
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()


def disk_stores(settings: config.Settings, service: str) -> dict[str, str]:
    """The databases a service's processes write to: its own, and intake's contact vault."""
    stores = {service: settings.database_url(service)}
    if service == "intake":
        stores["contact vault"] = settings.database_url("contactvault")
    return stores


def owner_watchdog(settings: config.Settings, service: str) -> Watchdog:
    # A store of its own with a small pool: the handlers' pool is for the handlers.
    signer = signing.load_signer(settings.keys_dir, service, settings.signing_keys.get(service))
    store = EventStore(database.create_engine(settings.database_url(service), small=True), service, signer)
    integrity = LogIntegrity(store, stores.keyring(settings))
    watches: list[Any] = [diskspace.DiskSpace(disk_stores(settings, service), settings.disk_min_free_bytes),
                           integrity, Checkpointer(store, integrity, settings.checkpoint_interval)]
    return Watchdog(
        service,
        store.engine,
        watches,
        Alerter(service, settings.alert_webhook),
        settings.verify_interval,
        checks={"store": health.database_check(store.engine),
                "broker": broker.BrokerCheck(settings.amqp_uri, service)},
    )
