"""A self-check that cannot run is a failure: unready, an alert, a metric; never the last verdict kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kesah import database, health, metrics
from kesah.alerts import Alerter
from kesah.watch import Finding, Watchdog, recorded, recorded_checks, recorded_families


class Told(Alerter):
    """The alerts, kept instead of sent (the webhook has its own e2e tests)."""

    def __init__(self) -> None:
        super().__init__("publicview")
        self.told: list[tuple[str, str, str]] = []

    def fire(self, check: str, problem: str, details: dict[str, Any] | None = None,
             round_number: int | None = None) -> None:
        self.told.append(("firing", check, problem))

    def resolve(self, check: str, note: str = "") -> None:
        self.told.append(("resolved", check, note))


class Flaky:
    name = "journal"

    def __init__(self) -> None:
        self.error: Exception | None = None

    def round(self) -> Finding:
        if self.error is not None:
            raise self.error
        return Finding(None, {"events": 3})

    def families(self) -> list[metrics.Family]:
        return []


def sample(text: str, name: str, check: str) -> str:
    prefix = f'{name}{{check="{check}",service="publicview"}} '
    return next(line for line in text.splitlines() if line.startswith(prefix))[len(prefix):]


def test_a_check_that_raises_fails_until_it_runs_again(tmp_path: Path) -> None:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'publicview.db'}")
    watch, told = Flaky(), Told()
    dog = Watchdog("publicview", engine, [watch], told, interval=60)
    probes = dog.probes()

    dog.run_round()
    assert health.readiness(probes.checks)[0] == 200
    assert sample(probes.metrics_text(), "kesah_check_failed", "journal") == "0"

    # The check passed before; now it cannot run. Its old verdict must not stand.
    watch.error = sa.exc.DatabaseError("SELECT 1", {}, Exception("file is not a database"))
    dog.run_round()
    status, body = health.readiness(probes.checks)
    assert status == 503
    assert body["checks"]["journal"] == "journal check could not run: Exception: file is not a database"
    assert told.told == [("firing", "journal", "journal check could not run: Exception: file is not a database")]
    text = probes.metrics_text()
    assert sample(text, "kesah_check_failed", "journal") == "1"
    assert sample(text, "kesah_check_ok", "journal") == "0"
    # The HTTP faces read what the worker recorded: the same verdict, the same metric.
    assert recorded_checks(engine, ["journal"])["journal"]() == body["checks"]["journal"]
    assert 'kesah_check_failed{check="journal",service="publicview"} 1' in metrics.render(
        recorded_families(engine, "publicview"))

    dog.run_round()  # the same problem: no second alert
    assert len(told.told) == 1

    watch.error = None
    dog.run_round()
    assert health.readiness(probes.checks)[0] == 200
    assert told.told[-1] == ("resolved", "journal", "no problem found any more")
    assert sample(probes.metrics_text(), "kesah_check_failed", "journal") == "0"
    assert recorded(engine)["journal"]["problem"] is None
    engine.dispose()


def test_a_face_cannot_vouch_for_a_verdict_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "publicview.db"
    engine = database.create_engine(f"sqlite:///{path}")
    Watchdog("publicview", engine, [Flaky()], Told(), interval=60).run_round()
    check = recorded_checks(engine, ["journal"])["journal"]
    assert check() is None
    engine.dispose()
    path.write_bytes(b"\0" * 4096)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert "the worker's verdict cannot be read" in (check() or "")
