"""publicview's SQLite file damaged while everything runs: garbage written over it, or cut to 0 bytes.

With KESAH_SELF_HEAL on, publicview moves the file aside (kept, named with
the time) and refills a new one from the owners' logs: the alert says so,
/readyz is unready until the journal is whole again, no public page answers
500 meanwhile, and every complaint comes back as it was. With it off, the
operator sees the same problem and the commands say what is wrong in one
sentence; `kesah replay publicview --from sources` moves the file aside and
rebuilds.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.support.fixtures import stores_on_postgres
from tests.support.system import System, wait_until
from tests.support.webhook import AlertReceiver

pytestmark = pytest.mark.skipif(stores_on_postgres(), reason="about SQLite files: a PostgreSQL database has no file "
                                                             "to overwrite or cut")

REASONS = {"garbage": "it is not an SQLite database (its header is wrong)", "zero": "it is empty (0 bytes)"}
# What SQLite says once a connection closing last has written the pages its -wal held back into the file.
LATER = ("database disk image is malformed", "file is not a database")


def damaged(path: Path, how: str, text: str) -> bool:
    """``text`` says the file at ``path`` is damaged, naming what is wrong with it."""
    return any(f"publicview's database file {path} is damaged: {reason}" in text for reason in (REASONS[how],) + LATER)
RECOVERING = "Halaman sedang dipulihkan, coba lagi sebentar lagi."


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    yield receiver
    receiver.close()


def damage(system: System, how: str) -> None:
    """Damage publicview's database file in place (the running processes keep it open)."""
    path = system.data_dir / "publicview.db"
    with open(path, "r+b") as fh:
        if how == "garbage":
            fh.write(os.urandom(path.stat().st_size))
        else:
            fh.truncate(0)


def with_complaints(system: System) -> dict[str, dict]:
    """Three complaints, one answered, as the public API shows them."""
    codes = [system.submit(title=f"Jalan berlubang nomor {i}")["tracking_code"] for i in range(3)]
    for code in codes:
        system.routed(code)
    assert system.answer(codes[0], "pupr", "Lubang sudah kami tambal.").status_code == 201
    system.wait_public(codes[0], lambda c: c["responses"])
    wait_until(lambda: ready(system), 30, "publicview ready")
    return {code: system.public(code) for code in codes}  # type: ignore[misc]


def ready(system: System) -> bool:
    response = system.probe("publicview")
    return response is not None and response.status_code == 200


class Visitor(threading.Thread):
    """Reads the public pages and publicview's /readyz over and over while the test does its work."""

    def __init__(self, system: System, code: str) -> None:
        super().__init__(daemon=True)
        self.system = system
        self.paths = ["/", "/aduan", f"/aduan/{code}", f"/api/complaints/{code}", f"/lacak?kode={code}",
                      "/statistik", "/status", "/api/status", "/data/aduan.csv", "/open311/v2/requests.json"]
        self.answers: list[tuple[str, int, str]] = []
        self.readiness: list[tuple[int, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=str(self.system.http.base_url), timeout=60) as client:
            while not self.stopping.is_set():
                for path in self.paths:
                    try:
                        response = client.get(path)
                    except httpx.HTTPError as exc:  # a reset connection is as bad as a 500
                        self.answers.append((path, 0, repr(exc)))
                        continue
                    self.answers.append((path, response.status_code, response.text))
                probe = self.system.probe("publicview")
                if probe is not None:
                    self.readiness.append((probe.status_code, probe.text))

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)

    def errors(self) -> list[tuple[str, int, str]]:
        return [(path, status, text[:300]) for path, status, text in self.answers
                if status == 0 or (status >= 500 and status != 503)]


@pytest.mark.parametrize("how", ["garbage", "zero"])
def test_publicview_moves_a_damaged_file_aside_and_refills_itself(
    make_system: Callable[..., System], receiver: AlertReceiver, how: str,
) -> None:
    system = make_system(extra_env={"KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url}).start()
    before = with_complaints(system)
    visitor = Visitor(system, next(iter(before)))
    visitor.start()
    try:
        damage(system, how)

        alert = wait_until(lambda: receiver.received(service="publicview", check="database", status="firing"), 60,
                           "the alert about the damaged file")[0]
        assert damaged(system.data_dir / "publicview.db", how, alert["summary"]), alert
        assert "moved aside to" in alert["summary"] and "refilling the journal" in alert["summary"]
        assert "rusak" in alert["message"] and "diisi ulang otomatis" in alert["message"]

        # Every complaint comes back as it was, without an operator.
        for code, doc in before.items():
            wait_until(lambda: system.public(code) == doc, 60, f"{code} back as it was")
        wait_until(lambda: receiver.received(service="publicview", check="database", status="resolved"), 60,
                   "the alert resolved")
        wait_until(lambda: ready(system), 60, "publicview ready again")
    finally:
        visitor.stop()

    assert visitor.errors() == []
    assert any(status == 503 and "is damaged" in body and "database" in body for status, body in visitor.readiness), \
        "publicview's /readyz never said the file was damaged"
    assert all(RECOVERING in text for _, status, text in visitor.answers if status == 503)
    metrics = system.probe("publicview", "/metrics").text
    assert "kesah_database_moved_aside_total 1" in metrics
    aside = [p for p in system.data_dir.glob("publicview.db.corrupt-*") if p.name.endswith("Z")]
    assert len(aside) == 1, aside  # kept for the investigation
    assert str(aside[0]) in system.logs("publicview")  # the log says where it went
    code, output = system.kesah("verify", "publicview")
    assert code == 0, output


@pytest.mark.parametrize("how", ["garbage", "zero"])
def test_without_self_heal_the_operator_is_told_and_replay_repairs_it(
    make_system: Callable[..., System], receiver: AlertReceiver, how: str,
) -> None:
    system = make_system(extra_env={"KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url,
                                    "KESAH_SELF_HEAL": "off"}).start()
    before = with_complaints(system)
    code = next(iter(before))
    path = system.data_dir / "publicview.db"
    damage(system, how)

    unready = wait_until(lambda: (r := system.probe("publicview")) is not None and r.status_code == 503
                         and "is damaged" in r.json()["checks"]["database"] and r.json(), 60, "publicview unready")
    assert damaged(path, how, unready["checks"]["database"]), unready
    assert "kesah replay publicview --from sources" in unready["checks"]["database"]
    alert = wait_until(lambda: receiver.received(service="publicview", check="database", status="firing"), 30,
                       "the alert")[0]
    assert "kesah replay publicview --from sources" in alert["message"]
    if how == "garbage":  # the checks that read the file cannot run at all
        wait_until(lambda: 'kesah_check_failed{check="integrity",service="publicview"} 1'
                   in system.probe("publicview", "/metrics").text, 30, "the check's failure in /metrics")
        for page in ("/", f"/aduan/{code}", f"/api/complaints/{code}", "/statistik", "/open311/v2/requests.json"):
            response = system.http.get(page)
            assert response.status_code == 503 and RECOVERING in response.text, (page, response.text[:300])
            assert response.headers["retry-after"]
    for page in ("/", f"/aduan/{code}", f"/api/complaints/{code}", "/status", "/data/aduan.json"):
        assert system.http.get(page).status_code in (200, 503)

    # A face (re)started meanwhile starts (its stop may let SQLite write the pages the -wal held back into
    # the file, so what it then answers depends on how much of the file that restored): never a 500.
    system.stop("web")
    system.start("web")
    assert system.http.get(f"/api/complaints/{code}").status_code in (200, 503)

    status, output = system.kesah("verify", "publicview")
    assert status == 1, output
    assert "publicview's database: FAILED: " in output and damaged(path, how, output), output
    assert "kesah replay publicview --from sources" in output and "Traceback" not in output
    for command in (("rebuild", "publicview"), ("dump", "publicview")):
        status, output = system.kesah(*command)
        assert status == 2, (command, output)
        last = output.strip().splitlines()[-1]
        assert last.startswith("kesah: ") and damaged(path, how, last), output
        assert last.endswith("; its journal cannot be read: run 'kesah replay publicview --from sources' (it moves "
                             "the file aside and refills a new database from the owners' logs)"), output
        assert "Traceback" not in output

    status, output = system.kesah("replay", "publicview", "--from", "sources")
    assert status == 0, output
    assert damaged(path, how, output) and f": moved aside to {path}.corrupt-" in output, output
    assert "Traceback" not in output
    for doc_code, doc in before.items():
        wait_until(lambda: system.public(doc_code) == doc, 60, f"{doc_code} back")
    wait_until(lambda: ready(system), 60, "publicview ready again")
    wait_until(lambda: receiver.received(service="publicview", check="database", status="resolved"), 30, "resolved")
    status, output = system.kesah("verify", "publicview")
    assert status == 0, output
