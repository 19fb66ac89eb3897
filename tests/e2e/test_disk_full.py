"""A full disk under one store: the owner goes unready and alerts, the relay backs off, nothing is lost or doubled.

Each case puts ONE store's SQLite file on a small tmpfs of its own (the
rest of the system stays on the test's directory), fills that tmpfs with a
filler file until ENOSPC, and watches the real processes: their /readyz,
the alerts a real webhook receives, the relay's /metrics (what it handed
to the broker, counted, never timed), the answers citizens get, and the
broker's archive stream, which keeps every message it receives, so a
republished event would show there twice. Then the filler goes and
everything must flow again by itself.
"""

from __future__ import annotations

import collections
import errno
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from kesah import archive
from tests.support import services
from tests.support.fixtures import stores_on_postgres
from tests.support.system import DEFAULT_COMPLAINT, System, wait_until
from tests.support.webhook import AlertReceiver

pytestmark = [
    pytest.mark.skipif(stores_on_postgres(), reason="a full disk is reproduced under SQLite files on a tmpfs; "
                                                    "PostgreSQL's disk_full (SQLSTATE 53100) is counted, not staged"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]

NOT_STORED = "Aduan Anda belum tersimpan"


class Disk:
    """A tmpfs mounted for one test, and a filler file that fills it."""

    def __init__(self, where: Path, size: str = "16m") -> None:
        self.path = where
        where.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "kesah-diskfull", str(where)], check=True)
        self.filler = where / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as out:
            for chunk in (1 << 16, 1 << 12, 1 << 9):
                try:
                    while True:
                        out.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], check=True)


@pytest.fixture
def disk_under(request: pytest.FixtureRequest, tmp_path: Path, make_vhost: Any) -> Iterator[Any]:
    """``disk_under(store)``: a started system whose ``store`` lives on a small tmpfs; (system, disk, receiver)."""
    systems: list[System] = []
    disks: list[Disk] = []
    receiver = AlertReceiver()

    def make(store: str) -> tuple[System, Disk, AlertReceiver]:
        disk = Disk(tmp_path / "disk")
        disks.append(disk)
        system = System(tmp_path / "data", make_vhost(), {store: f"sqlite:///{disk.path / store}.db"}, extra_env={
            "KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url, "KESAH_DISK_MIN_FREE_MB": "1",
            "KESAH_RELAY_RETRY_MAX_SECONDS": "2",
        })
        systems.append(system)
        return system.start(), disk, receiver

    try:
        yield make
    finally:
        failed = getattr(request.node, "report_call", None)
        try:
            for system in systems:
                system.close()
                if failed is not None and failed.failed:
                    for name in system.supervisor.started:
                        print(f"\n----- {name} log (tail) -----\n{system.logs(name)[-3000:]}")
        finally:
            for disk in disks:  # after the processes that held files on it are gone
                disk.unmount()
        receiver.close()


# --- reading the processes ------------------------------------------------------------------

def readiness(system: System, name: str) -> dict[str, Any] | None:
    response = system.probe(name)
    return None if response is None else {**response.json(), "code": response.status_code}


def unready(system: System, name: str, check: str, *words: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        ready = readiness(system, name)
        found = ready and ready["code"] == 503 and ready["checks"].get(check, "ok")
        return ready if found and all(w in found for w in words) else None

    return wait_until(seen, 30, f"{name}'s /readyz to name {check}: {words}")


def ready(system: System, name: str) -> bool:
    state = readiness(system, name)
    return state is not None and state["code"] == 200


def metric(system: System, name: str, **labels: str) -> float:
    text = system.probe("relay", "/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{name}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.M)
    assert match, f"{name} {labels} not in the relay's metrics"
    return float(match.group(1))


def archived(system: System) -> collections.Counter[str]:
    """Messages per event id in the broker's archive stream."""
    return collections.Counter(e.event_id for e in archive.events(system.settings))


def every_event(system: System) -> list[Any]:
    return [e for source in ("intake", "routing", "responses") for e in system.events(source)]


def visible_exactly_once(system: System, codes: list[str]) -> None:
    for code in codes:
        system.wait_public(code, lambda c: c.get("agency") is not None, timeout=90)
    status, dump = system.kesah("dump", "publicview")
    assert status == 0, dump
    dumped = collections.Counter(re.findall(r'"tracking_code":\s*"([^"]+)"', dump))
    assert dumped == collections.Counter(codes), dumped


def post_complaint(system: System, title: str) -> httpx.Response:
    return system.http.post("/api/complaints", json={**DEFAULT_COMPLAINT, "title": title})


def post_form(system: System, title: str) -> httpx.Response:
    fields = {"kind": "keluhan", "title": title, "body": "Jalan rusak di depan rumah, sudah sebulan.",
              "kelurahan": "Kanaan", "address": "Jl. Kanaan"}
    return system.http.post("/lapor", data=fields)


def refused_in_indonesian(response: httpx.Response, form: bool = False) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers.get("retry-after")
    if form:
        assert NOT_STORED in response.text and 'value="Jalan rusak' in response.text  # what was typed stays
    else:
        assert NOT_STORED in response.json()["message"]


# --- the cases ------------------------------------------------------------------------------

def test_a_full_disk_under_intakes_store(disk_under: Any) -> None:
    system, disk, receiver = disk_under("intake")
    path = str(disk.path / "intake.db")
    accepted = [system.submit(title=f"Jalan berlubang {i}")["tracking_code"] for i in range(2)]
    for code in accepted:
        system.routed(code)
    for name in ("relay", "intake"):
        wait_until(lambda: ready(system, name), 30, f"{name} to be ready ({readiness(system, name)})")

    # Events committed while the relay is away wait in the outbox; then the disk fills.
    system.stop("relay")
    relayed_before = len(every_event(system)) - sum(system.store(s).outbox_size()
                                                     for s in ("intake", "routing", "responses"))
    waiting = [system.submit(title=f"Lampu jalan mati {i}")["tracking_code"] for i in range(5)]
    accepted += waiting
    disk.fill()
    statuses = collections.Counter()
    for i in range(3):
        response = post_complaint(system, f"Selokan tersumbat {i}")
        statuses[response.status_code] += 1
        refused_in_indonesian(response)
    response = post_form(system, "Jalan rusak di Kanaan")
    statuses[response.status_code] += 1
    refused_in_indonesian(response, form=True)

    # The owner is unready, naming the disk and the file; the alert reaches the webhook.
    state = unready(system, "intake", "disk", "disk full under intake's store", path)
    assert state["checks"]["store"] == "ok"  # reads still work: only the disk watch can tell
    alert = wait_until(lambda: receiver.received(service="intake", check="disk", status="firing"), 30,
                       "intake's disk alert")[0]
    assert path in alert["summary"] and "disk penyimpanan penuh" in alert["message"], alert

    # The relay publishes the waiting batch once: the broker confirms it, the store cannot record it.
    system.start("relay")
    state = unready(system, "relay", "outbox intake", "disk full", "5 event(s) the broker confirmed", path)
    assert state["checks"]["broker"] == "ok"
    wait_until(lambda: receiver.received(service="relay", check="outbox intake", status="firing"), 30,
               "the relay's alert")
    sent = metric(system, "kesah_relay_sent_total")
    errors = metric(system, "kesah_relay_store_errors_total", store="intake")
    wait_until(lambda: metric(system, "kesah_relay_store_errors_total", store="intake") >= errors + 3, 30,
               "the relay to retry intake's store three more times")
    assert metric(system, "kesah_relay_sent_total") == sent  # retried the record, never the publish
    assert metric(system, "kesah_relay_confirmed_unrecorded", store="intake") == 5
    assert metric(system, "kesah_relay_retry_seconds", store="intake") == 2  # backed off to its cap
    assert metric(system, "kesah_disk_full_errors_total", database=path) >= 1
    # The other stores' outboxes flow meanwhile: the confirmed complaints get routed and published.
    for code in waiting:
        system.routed(code, timeout=60)

    # Space returns: everything flows again, nobody intervenes.
    disk.free()
    wait_until(lambda: ready(system, "relay"), 30, "the relay to be ready again")
    wait_until(lambda: ready(system, "intake"), 30, "intake to be ready again")
    wait_until(lambda: receiver.received(service="intake", check="disk", status="resolved"), 30, "resolved")
    wait_until(lambda: receiver.received(service="relay", check="outbox intake", status="resolved"), 30,
               "resolved")
    assert metric(system, "kesah_relay_confirmed_unrecorded", store="intake") == 0
    accepted += [system.submit(title=f"Pohon tumbang {i}")["tracking_code"] for i in range(2)]
    form = post_form(system, "Jalan rusak di Kanaan lagi")
    assert form.status_code == 201, form.text[:500]
    accepted.append(re.search(r'/aduan/([A-Z0-9-]+)', form.headers["location"]).group(1))
    visible_exactly_once(system, accepted)

    # The relay running now was started after the first had relayed everything: each event sent once.
    events = every_event(system)
    fresh = len(events) - relayed_before
    wait_until(lambda: metric(system, "kesah_relay_published_total") == fresh, 30, "the relay to catch up")
    assert metric(system, "kesah_relay_sent_total") == fresh
    copies = archived(system)
    assert {e.event_id for e in events} <= set(copies)
    assert [i for i, n in copies.items() if n > 1] == [], "events archived more than once"
    assert set(statuses) == {503}


def test_a_full_disk_under_publicviews_store(disk_under: Any) -> None:
    system, disk, receiver = disk_under("publicview")
    path = str(disk.path / "publicview.db")
    accepted = [system.submit(title="Jalan berlubang sebelum disk penuh")["tracking_code"]]
    system.routed(accepted[0])
    wait_until(lambda: ready(system, "publicview"), 30, "publicview to be ready")

    disk.fill()
    unready(system, "publicview", "disk", "disk full under publicview's store", path)
    alert = wait_until(lambda: receiver.received(service="publicview", check="disk", status="firing"), 30,
                       "publicview's disk alert")[0]
    assert path in alert["summary"] and "publicview" in alert["message"], alert
    assert unready(system, "web", "disk", path)  # the public face's /readyz
    for name in ("intake", "routing", "responses", "relay"):
        assert ready(system, name), (name, readiness(system, name))

    # Citizens can still submit (intake's disk is fine) and read what was published before.
    accepted += [system.submit(title=f"Lampu jalan mati {i}")["tracking_code"] for i in range(3)]
    assert system.public(accepted[0]) is not None
    assert system.http.get("/").status_code == 200

    disk.free()
    wait_until(lambda: ready(system, "publicview"), 30, "publicview to be ready again")
    wait_until(lambda: receiver.received(service="publicview", check="disk", status="resolved"), 30, "resolved")
    visible_exactly_once(system, accepted)
    events = every_event(system)
    copies = archived(system)
    assert {e.event_id for e in events} <= set(copies)
    assert [i for i, n in copies.items() if n > 1] == [], "events archived more than once"
    assert metric(system, "kesah_relay_sent_total") == len(events)
