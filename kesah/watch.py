"""A running service watching itself.

A ``Watchdog`` runs its ``Watch``es every ``KESAH_VERIFY_INTERVAL`` seconds
(the owner's log integrity, publicview's journal and projection, lag). Each
round's finding (a watch that raises is a finding too: its check could not
run, which is a problem, never the last verdict kept):

- feeds ``/readyz`` (a watch with a problem makes the process unready) and
  ``/metrics``;
- fires an alert when a problem appears or changes, and resolves it when it
  is gone (``kesah.alerts``);
- is recorded in the service's own database (table ``watch_status``), so the
  service's HTTP faces, which run the checks of no one, report the same
  readiness without verifying the log again in every web replica.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import database, health
from .alerts import Alerter
from .contracts import utc_now
from .metrics import Family

log = logging.getLogger("kesah.watch")

metadata = sa.MetaData()

watch_status = sa.Table(
    "watch_status",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("problem", sa.Text),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("checked_at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class Finding:
    """What one round of a watch found: ``problem`` is None when all is well."""

    problem: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def could_not_run(cls, name: str, exc: BaseException) -> "Finding":
        """A check that raised: it cannot vouch for anything, so it fails (unready, an alert, kesah_check_failed)."""
        why = reason(exc)
        return cls(f"{name} check could not run: {why}", {COULD_NOT_RUN: why})


COULD_NOT_RUN = "could_not_run"


def reason(exc: BaseException) -> str:
    """An exception in one line: the driver's own error for a database's (not SQLAlchemy's SQL and link)."""
    inner = getattr(exc, "orig", None) or exc
    text = (str(inner).strip().splitlines() or [""])[0]
    return f"{inner.__class__.__name__}: {text}" if text else inner.__class__.__name__


class Watch(Protocol):
    name: str

    def round(self) -> Finding: ...

    def families(self) -> list[Family]: ...


def cooperate() -> None:
    """Let other green threads run during a long check (a no-op outside eventlet)."""
    try:
        from eventlet import patcher, sleep
    except ImportError:  # pragma: no cover - eventlet is a dependency
        return
    if patcher.is_monkey_patched("thread"):
        sleep(0)


class Watchdog:
    def __init__(
        self,
        service: str,
        engine: Engine,
        watches: Sequence[Watch],
        alerter: Alerter,
        interval: float,
        checks: Mapping[str, health.Check] | None = None,
        families: Callable[[], Iterable[Family]] | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.watches = list(watches)
        self.alerter = alerter
        self.interval = interval
        self.static_checks = dict(checks or {})
        self.extra_families = families or (lambda: [])
        self.findings: dict[str, Finding] = {}
        self.rounds = 0
        self.errors = 0
        self.last_round_at = 0.0
        self.last_round_seconds = 0.0
        self._stopping = threading.Event()
        from . import schema

        schema.prepare(engine, service)

    # --- running ----------------------------------------------------------------

    def run(self) -> None:
        """Rounds until stopped; the first starts at once."""
        while not self._stopping.is_set():
            self.run_round()
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()

    def run_round(self) -> dict[str, Finding]:
        started = time.monotonic()
        for watch in self.watches:
            try:
                finding = watch.round()
            except Exception as exc:  # a check that cannot run (database down or damaged...) fails
                self.errors += 1
                finding = Finding.could_not_run(watch.name, exc)
                log.warning("%s: %s", self.service, finding.problem, exc_info=log.isEnabledFor(logging.DEBUG))
            self._settle(watch.name, finding)
        self.rounds += 1
        self.last_round_at = time.time()
        self.last_round_seconds = time.monotonic() - started
        return dict(self.findings)

    def _settle(self, name: str, finding: Finding) -> None:
        before = self.findings.get(name)
        self.findings[name] = finding
        if finding.problem and (before is None or before.problem != finding.problem):
            self.alerter.fire(name, finding.problem, finding.details, round_number=self.rounds + 1)
        elif not finding.problem and before is not None and before.problem:
            self.alerter.resolve(name, "no problem found any more")
        try:
            record(self.engine, name, finding)
        except Exception as exc:  # the readiness of this process still says it
            log.warning("%s: cannot record the %s verdict: %s", self.service, name, exc)

    # --- reporting --------------------------------------------------------------

    def checks(self) -> dict[str, health.Check]:
        checks = dict(self.static_checks)
        for watch in self.watches:
            checks[watch.name] = (lambda name: lambda: self._problem(name))(watch.name)
        return checks

    def _problem(self, name: str) -> str | None:
        finding = self.findings.get(name)
        return finding.problem if finding else None

    def probes(self) -> health.Probes:
        return health.Probes(self.checks(), self.families)

    def families(self) -> list[Family]:
        ok, failed = _verdict_families()
        for watch in self.watches:
            finding = self.findings.get(watch.name)
            if finding is not None:
                ok.add(0 if finding.problem else 1, service=self.service, check=watch.name)
                failed.add(COULD_NOT_RUN in finding.details, service=self.service, check=watch.name)
        families = [
            ok,
            failed,
            Family("kesah_check_rounds_total", "counter", "self-check rounds run").add(
                self.rounds, service=self.service),
            Family("kesah_check_errors_total", "counter", "self-checks that could not run").add(
                self.errors, service=self.service),
            Family("kesah_check_last_round_timestamp_seconds", "gauge", "when the last round ended").add(
                self.last_round_at, service=self.service),
            Family("kesah_check_round_seconds", "gauge", "how long the last round took").add(
                self.last_round_seconds, service=self.service),
            Family("kesah_alerts_sent_total", "counter", "alerts delivered to the webhook").add(
                self.alerter.sent, service=self.service),
            Family("kesah_alerts_failed_total", "counter", "alerts the webhook did not take").add(
                self.alerter.failed, service=self.service),
        ]
        for watch in self.watches:
            families.extend(watch.families())
        families.extend(self.extra_families())
        return families


# --- the recorded verdicts, for the HTTP faces -------------------------------------

def record(engine: Engine, name: str, finding: Finding) -> None:
    row = {"problem": finding.problem, "details": json.dumps(finding.details, default=str),
           "checked_at": utc_now()}
    with database.writing(engine) as conn:
        updated = conn.execute(watch_status.update().where(watch_status.c.name == name).values(**row))
        if updated.rowcount == 0:
            conn.execute(watch_status.insert().values(name=name, **row))


def recorded(engine: Engine) -> dict[str, dict[str, Any]]:
    """name -> {problem, details, checked_at}: what the service's worker found last."""
    try:
        return _recorded(engine)
    except sa.exc.DBAPIError:
        return {}  # no worker has recorded anything yet (or the database is down: the store check says so)


def _recorded(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(watch_status)).all()
    return {
        r.name: {"problem": r.problem, "details": json.loads(r.details), "checked_at": r.checked_at}
        for r in rows
    }


def recorded_checks(engine: Engine, names: Sequence[str]) -> dict[str, health.Check]:
    """Readiness checks of an HTTP face: the verdicts its service's worker recorded.

    A verdict that cannot be read is a problem: the face cannot say the check passed.
    """

    def check(name: str) -> health.Check:
        def problem() -> str | None:
            try:
                entry = _recorded(engine).get(name)
            except sa.exc.DBAPIError as exc:
                return f"the worker's verdict cannot be read: {reason(exc)}"
            return entry["problem"] if entry else None

        return problem

    return {name: check(name) for name in names}


def recorded_families(engine: Engine, service: str) -> list[Family]:
    ok, failed = _verdict_families()
    for name, entry in sorted(recorded(engine).items()):
        ok.add(0 if entry["problem"] else 1, service=service, check=name)
        failed.add(COULD_NOT_RUN in entry["details"], service=service, check=name)
    return [ok, failed]


def _verdict_families() -> tuple[Family, Family]:
    return (Family("kesah_check_ok", "gauge", "1 when the last round of a self-check found no problem"),
            Family("kesah_check_failed", "gauge", "1 when the last round of a self-check could not run"))
