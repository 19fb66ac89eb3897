"""publicview watching itself: its journal, its projection, its lag behind the owners.

Each round verifies the journal (every owner's chain in it), then compares
the projection with a rebuild from the journal, and checks that the SQLite
file itself is whole. With KESAH_SELF_HEAL on, publicview repairs what it
owns: complaints whose projected document differs from their journal are
projected again; a damaged file is moved aside and a new one refilled from
the owners' logs. The round that finds damage still reports it (an alert,
unready), saying what was healed.
"""

from __future__ import annotations

import time
from typing import Any

from kesah import broker, config, database, diskspace, health, schema, signing, stores, verify
from kesah.alerts import Alerter
from kesah.eventstore import Head
from kesah.metrics import Family
from kesah.watch import Finding, Watchdog, cooperate

from . import integrity, storefile
from .store import PublicView


class JournalIntegrity:
    name = "integrity"

    def __init__(self, view: PublicView, keyring: signing.Keyring, grace: float, heal: bool = False) -> None:
        self.view = view
        self.heal = heal
        # Set when a round finds the journal damaged and healing is on: the service's next
        # heads round refills it over RPC from the owners (the watchdog has no RPC of its own).
        self.refill_requested = False
        self.keyring = keyring
        self.grace = grace
        self.anchors: dict[str, verify.Anchor] = {}
        self.reached: dict[str, Head] = {}
        self.reports: list[verify.LogReport] = []
        self.failures = 0

    @property
    def ok(self) -> bool:
        return bool(self.reports) and all(r.ok for r in self.reports)

    def start_over(self) -> None:
        """The journal is a new one (its file was replaced): nothing verified before holds for it."""
        self.anchors.clear()
        self.reached.clear()
        self.reports = []
        self.refill_requested = True

    def still_ok(self) -> bool:
        """Verify again (cheap: from this round's anchors), changing nothing."""
        reports = integrity.verify_journal(self.view, self.keyring, grace=self.grace, anchors=self.anchors,
                                           expect=self.reached, pause=cooperate)
        return all(r.ok for r in reports)

    def round(self) -> Finding:
        self.reports = integrity.verify_journal(self.view, self.keyring, grace=self.grace, anchors=self.anchors,
                                                expect=self.reached, pause=cooperate)
        bad = [r for r in self.reports if not r.ok]
        for report in self.reports:
            if report.ok and report.anchor is not None:
                source = report.name.split("(")[-1].rstrip(")")
                self.anchors[source], self.reached[source] = report.anchor, report.head
        details = {"reports": [r.to_json() for r in self.reports]}
        if not bad:
            return Finding(None, details)
        self.failures += 1
        problem = "; ".join(r.summary() for r in bad)
        if self.heal:
            self.refill_requested = True
            problem += "; refilling the journal from the owners' logs"
        return Finding(problem, {**details, "remedy": integrity.JOURNAL_REMEDY})

    def families(self) -> list[Family]:
        ok = Family("kesah_integrity_ok", "gauge", "1 when the log verified in the last round")
        head = Family("kesah_log_head_position", "gauge", "position of the last verified event")
        for report in self.reports:
            ok.add(report.ok, store=report.name)
            head.add(report.head.position, store=report.name)
        return [ok, head, Family("kesah_integrity_failures_total", "counter",
                                 "verification rounds that found a problem").add(self.failures, store="publicview")]


class ProjectionCheck:
    name = "projection"

    def __init__(self, view: PublicView, journal: JournalIntegrity, heal: bool) -> None:
        self.view = view
        self.journal = journal
        self.heal = heal
        self.last: integrity.ProjectionReport | None = None
        self.healed = 0

    def round(self) -> Finding:
        if not self.journal.ok:
            return Finding(None, {"skipped": "the journal must verify first"})
        report = integrity.verify_projection(self.view, pause=cooperate)
        self.last = report
        if report.ok:
            return Finding(None, report.to_json())
        if not self.journal.still_ok():
            # The journal changed since it was verified this round: its check names that next
            # round; the projection is neither blamed nor rebuilt from a damaged journal.
            return Finding(None, {"skipped": "the journal changed during the check"})
        problem = report.summary()
        count = 0
        if self.heal:
            count = integrity.heal_projection(self.view, report)
            self.healed += count
            after = integrity.verify_projection(self.view, pause=cooperate)
            problem += f"; healed: {count} complaint(s) projected again from the journal" + (
                "" if after.ok else f", still differs: {after.summary()}")
        return Finding(problem, {**report.to_json(), "healed": count, "remedy": integrity.PROJECTION_REMEDY})

    def families(self) -> list[Family]:
        families = [Family("kesah_projection_healed_total", "counter",
                           "complaints publicview projected again after finding them altered").add(self.healed)]
        if self.last is not None:
            families += [
                Family("kesah_projection_ok", "gauge", "1 when the projection equals a rebuild from the journal").add(
                    self.last.ok),
                Family("kesah_projection_checkpoint", "gauge", "journal sequence the projection is at").add(
                    self.last.checkpoint),
                Family("kesah_projection_complaints", "gauge", "complaints in the projection").add(
                    self.last.complaints),
            ]
        return families


class LagCheck:
    """How far the public view is behind the owners' logs; a problem once it stays high.

    The lag is what the owners have (their heads, which the service asks for
    every few seconds) and the journal does not, plus what is journaled but not
    yet projected. A moment of high lag is a burst; ``seconds`` of it is not.
    """

    name = "lag"

    def __init__(self, view: PublicView, events: int, seconds: float, clock: Any = time.monotonic) -> None:
        self.view = view
        self.events = events
        self.seconds = seconds
        self.clock = clock
        self.high_since: float | None = None
        self.last: dict[str, Any] = {}

    def round(self) -> Finding:
        fresh = self.view.freshness()
        behind = {s["source"]: s["lag"] for s in fresh["sources"] if s["lag"] is not None}
        total = sum(behind.values()) + fresh["projection_lag"]
        self.last = {"lag": total, "sources": behind, "projection_lag": fresh["projection_lag"]}
        if total <= self.events:
            self.high_since = None
            return Finding(None, self.last)
        now = self.clock()
        if self.high_since is None:
            self.high_since = now
        lasted = now - self.high_since
        if lasted < self.seconds:
            return Finding(None, self.last)
        if fresh.get("pinned"):
            return Finding(f"publicview's projection is pinned at {fresh['pinned']} (kesah rebuild publicview "
                           f"--until): {fresh['projection_lag']} events journaled but not shown; "
                           f"'kesah rebuild publicview' shows the present again", self.last)
        return Finding(f"publicview is {total} events behind the owners' logs (more than {self.events}) "
                       f"for {lasted:.0f}s: is the relay or publicview's consumer stuck?", self.last)

    def families(self) -> list[Family]:
        if not self.last:
            return []
        behind = Family("kesah_lag_events", "gauge", "events an owner has that publicview's journal lacks")
        for source, lag in sorted(self.last["sources"].items()):
            behind.add(lag, source=source)
        return [behind, Family("kesah_projection_lag_events", "gauge", "events journaled but not yet projected")
                .add(self.last["projection_lag"])]


class DatabaseFile:
    """publicview's SQLite file is whole; a damaged one is moved aside and made anew (KESAH_SELF_HEAL).

    Last in a round: the other checks read the whole journal and projection
    and so meet damage that a probe of the file's first pages cannot see
    (their engines remember it). Until the new journal is refilled from the
    owners the problem stands: the public view is not whole yet.
    """

    name = "database"

    def __init__(self, view: PublicView, journal: JournalIntegrity, heal: bool) -> None:
        self.view = view
        self.journal = journal
        self.heal = heal
        self.path = database.sqlite_file(view.engine)
        self.replaced: str | None = None  # what was done to the last damaged file, until the refill ends
        self.moved = 0

    def round(self) -> Finding:
        if self.path is None:
            return Finding(None, {"skipped": "not an SQLite file"})
        found = storefile.damage(self.path, self.view.engine)
        empty = found is None and storefile.unmigrated(self.view.engine)
        if found is None and not empty:
            if self.replaced is not None and self.journal.refill_requested:
                return Finding(f"{self.replaced}; refilling the journal from the owners' logs", {"path": self.path})
            self.replaced = None
            return Finding(None, {"path": self.path})
        if empty:
            # Deleted, and made again (empty) by a connection: nothing to keep; its tables are made.
            found = storefile.Damage(self.path, "it holds none of publicview's tables", None)
        assert found is not None
        details: dict[str, Any] = {"path": self.path, "damage": found.reason, "remedy": storefile.REMEDY}
        if not self.heal:
            return Finding(f"{found.summary()}: run 'kesah replay publicview --from sources' (it moves the file "
                           "aside and refills a new one)", details)
        if empty:
            schema.prepare(self.view.engine, "publicview")
            details["moved_to"] = None
            self.replaced = f"{found.summary()}: its tables were made anew"
        else:
            target = storefile.set_aside(found, self.view.engine)
            self.moved += 1
            details["moved_to"] = str(target) if target else None
            self.replaced = f"{found.summary()}: " + (f"moved aside to {target}" if target else
                                                      "moved aside by another process")
        self.journal.start_over()
        return Finding(f"{self.replaced}; refilling the journal from the owners' logs", details)

    def families(self) -> list[Family]:
        return [Family("kesah_database_moved_aside_total", "counter",
                       "damaged database files publicview moved aside and made anew").add(self.moved)]


def publicview_watchdog(settings: config.Settings) -> Watchdog:
    storefile.heal_at_start(settings)
    # Its own engine with a small pool: the handlers' pool is for the handlers.
    view = PublicView(database.create_engine(settings.database_url("publicview"), small=True), stores.keyring(settings))
    journal = JournalIntegrity(view, stores.keyring(settings), grace=max(10.0, 2 * settings.verify_interval),
                               heal=settings.self_heal)
    disk = diskspace.DiskSpace({"publicview": settings.database_url("publicview")}, settings.disk_min_free_bytes)
    watches: list[Any] = [disk, journal, ProjectionCheck(view, journal, settings.self_heal),
                          LagCheck(view, settings.lag_alert_events, settings.lag_alert_seconds),
                          DatabaseFile(view, journal, settings.self_heal)]
    return Watchdog(
        "publicview",
        view.engine,
        watches,
        Alerter("publicview", settings.alert_webhook),
        settings.verify_interval,
        checks={"store": health.database_check(view.engine),
                "broker": broker.BrokerCheck(settings.amqp_uri, "publicview")},
    )
