"""An intruder's SQL on any copy of the log is named by `kesah verify` and noticed by the running service.

One running system (self-healing off, verification every half second, alerts
to a real local webhook receiver) is shared by every case: each case applies
one intrusion to one store, checks `kesah verify` and the service's /readyz
and alert, then undoes the intrusion and waits until the service is ready
again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from tests.support import services
from tests.support.fixtures import stores_on_postgres
from tests.support.intruder import INTRUSIONS, Rows
from tests.support.system import System, wait_until
from tests.support.webhook import AlertReceiver

POSITION = 2


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, AlertReceiver]]:
    receiver = AlertReceiver()
    vhost = services.create_vhost()
    databases = [f"kesah_test_{vhost[-10:]}_{s}" for s in ("intake", "routing", "responses", "publicview")]
    urls = None
    if stores_on_postgres():
        for name in databases:
            services.create_pg_database(name)
        urls = {name.rsplit("_", 1)[1]: services.pg_url(name) for name in databases}
    system = System(tmp_path_factory.mktemp("watched"), vhost, urls, extra_env={
        "KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url, "KESAH_SELF_HEAL": "off",
    })
    try:
        system.start()
        for i in range(4):
            code = system.submit(title=f"Jalan berlubang nomor {i}")["tracking_code"]
            system.routed(code)
            assert system.answer(code, "pupr", f"Lubang nomor {i} sudah kami tambal.").status_code == 201
            system.wait_public(code, lambda c: c["responses"])
        for name in ("intake", "routing", "responses", "publicview"):
            wait_until(lambda: ready(system, name), 30, f"{name} to be ready")
        yield system, receiver
    finally:
        system.close()
        services.delete_vhost(vhost)
        if urls:
            for name in databases:
                services.drop_pg_database(name)
        receiver.close()


def ready(system: System, name: str) -> bool:
    response = system.probe(name)
    return response is not None and response.status_code == 200


def rows_of(system: System, store: str) -> Rows:
    if store == "publicview":
        return Rows(_engine(system, "publicview"), "journal", "intake")
    return Rows(system.store(store).engine, "events", store)


_engines: dict[str, Any] = {}


def _engine(system: System, service: str) -> Any:
    from kesah import database

    key = system.settings.database_url(service)
    if key not in _engines:
        _engines[key] = database.create_engine(key)
    return _engines[key]


def rounds(system: System, service: str) -> int:
    """The verification rounds the service's worker has finished (from its /metrics)."""
    text = system.probe(service, "/metrics").text
    return int(re.search(rf'^kesah_check_rounds_total{{service="{service}"}} (\d+)$', text, re.M).group(1))


def alert_lines(system: System, service: str) -> list[str]:
    """The ERROR lines the service's worker logged for integrity alerts."""
    return [line for line in system.logs(service).splitlines()
            if " ERROR " in line and f"ALERT {service} integrity:" in line]


def report_for(verdict: dict[str, Any], store: str) -> dict[str, Any]:
    name = "publicview journal (intake)" if store == "publicview" else store
    return next(r for r in verdict["reports"] if r["name"] == name)


@pytest.mark.parametrize("store", ["intake", "routing", "responses", "publicview"])
@pytest.mark.parametrize("intrusion", INTRUSIONS, ids=lambda i: i.__name__)
def test_an_intrusion_is_named_by_verify_and_seen_by_the_running_service(
    watched: tuple[System, AlertReceiver], store: str, intrusion: Any,
) -> None:
    system, receiver = watched
    wait_until(lambda: ready(system, store), 30, f"{store} to be ready before the intrusion")
    firing_before = len(receiver.received(service=store, status="firing"))
    logged_before = len(alert_lines(system, store))
    attack = intrusion(rows_of(system, store), POSITION)
    attack.apply()
    # Rounds the worker finished by now: the next may have started before the intrusion, the one
    # after it started later, so it must be the one that finds it ("within one interval").
    finished = rounds(system, store)
    try:
        code, output = system.kesah("verify", store, "--json")
        assert code == 1, output
        verdict = json.loads(output)
        problem = report_for(verdict, store)["problem"]
        assert (problem["position"], problem["kind"]) == (POSITION, attack.kind), problem
        assert report_for(verdict, store)["remedy"]

        expected = f"position {POSITION}: {attack.kind}"
        unready = wait_until(lambda: (r := system.probe(store)) is not None and r.status_code == 503 and r.json(),
                             30, f"{store} to turn unready")
        assert expected in unready["checks"]["integrity"], unready
        alert = wait_until(lambda: receiver.received(service=store, status="firing")[firing_before:], 30,
                           "the alert")[0]
        assert alert["check"] == "integrity" and expected in alert["summary"], alert
        assert alert["round"] <= finished + 2, (alert["round"], finished)
        assert f"posisi {POSITION}" in alert["message"], alert  # for the people who read it
        assert any(expected in line for line in alert_lines(system, store)[logged_before:])
    finally:
        attack.undo()
    wait_until(lambda: ready(system, store), 30, f"{store} to be ready again after the undo")


def test_the_web_face_reports_its_workers_verdict_and_verify_exits_non_zero(
    watched: tuple[System, AlertReceiver],
) -> None:
    system, receiver = watched
    assert system.http.get("/readyz").status_code == 200
    attack = INTRUSIONS[0](rows_of(system, "publicview"), POSITION)
    attack.apply()
    try:
        unready = wait_until(lambda: (r := system.http.get("/readyz")).status_code == 503 and r.json(), 30,
                             "publicview's web face to turn unready")
        assert "position 2: changed" in unready["checks"]["integrity"]
        # What Kubernetes asks to keep the face in its Service: it still serves the public.
        serving = system.http.get("/readyz", params={"check": "store"})
        assert serving.status_code == 200 and serving.json()["checks"] == {"store": "ok"}, serving.text
        assert system.http.get("/readyz", params={"check": "kecepatan"}).status_code == 400
        assert system.probe("publicview", "/readyz?check=store&check=broker").status_code == 200
        assert system.probe("publicview", "/readyz?check=integrity").status_code == 503
        assert "kesah_check_ok" in system.http.get("/metrics").text
        # The real command, in its own process, with its exit code and its sentence.
        done = subprocess.run([sys.executable, "-m", "kesah", "verify", "all"], env=system.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "publicview journal (intake): FAILED at position 2: changed" in done.stdout
        assert "kesah replay publicview --from sources" in done.stdout
        assert "verification FAILED" in done.stdout
    finally:
        attack.undo()
    wait_until(lambda: system.http.get("/readyz").status_code == 200, 30, "the web face to be ready again")
    done = subprocess.run([sys.executable, "-m", "kesah", "verify", "all"], env=system.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all verified" in done.stdout


def test_a_projection_altered_by_sql_is_named_by_verify_and_seen_by_the_running_service(
    watched: tuple[System, AlertReceiver],
) -> None:
    """Self-healing is off here: the comparison with a rebuild from the journal is what finds it."""
    system, receiver = watched
    wait_until(lambda: ready(system, "publicview"), 30, "publicview to be ready")
    firing_before = len(receiver.received(service="publicview", check="projection", status="firing"))
    engine = _engine(system, "publicview")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT tracking_code, status, document FROM complaints ORDER BY tracking_code"
                                   " LIMIT 1")).one()
    altered = json.loads(row.document)
    altered.update(title="Pemerintah tidak peduli", status="selesai")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE complaints SET document = :d, status = 'selesai' WHERE tracking_code = :c"),
                     {"d": json.dumps(altered), "c": row.tracking_code})
    finished = rounds(system, "publicview")
    try:
        code, output = system.kesah("verify", "publicview", "--json")
        assert code == 1, output
        projection = report_for(json.loads(output), "publicview projection")
        assert not projection["ok"] and projection["checkpoint"] > 0
        assert projection["projection_checksum"] != projection["rebuild_checksum"]
        assert projection["differences"][0]["tracking_code"] == row.tracking_code
        assert "status" in projection["differences"][0]["what"], projection
        assert "kesah rebuild publicview" in projection["remedy"]
        # Every log in publicview's journal still verifies: only the projection is wrong.
        assert all(r["ok"] for r in json.loads(output)["reports"] if r["name"].startswith("publicview journal"))

        unready = wait_until(lambda: (r := system.probe("publicview")) is not None and r.status_code == 503
                             and r.json(), 30, "publicview to turn unready")
        assert row.tracking_code in unready["checks"]["projection"], unready
        alert = wait_until(lambda: receiver.received(service="publicview", check="projection",
                                                     status="firing")[firing_before:], 30, "the alert")[0]
        assert "checksum" in alert["summary"] and row.tracking_code in alert["summary"], alert
        assert alert["round"] <= finished + 2, (alert["round"], finished)
        assert row.tracking_code in alert["message"], alert
        assert system.public(row.tracking_code)["status"] == "selesai"  # nobody healed it: self-heal is off
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE complaints SET document = :d, status = :s WHERE tracking_code = :c"),
                         {"d": row.document, "s": row.status, "c": row.tracking_code})
    wait_until(lambda: ready(system, "publicview"), 30, "publicview to be ready again")
    code, output = system.kesah("verify", "publicview")
    assert code == 0, output


def test_verify_and_audit_that_cannot_run_say_why_in_one_sentence(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESAH_")}
    env["KESAH_DATA_DIR"] = str(tmp_path / "nothing-here")

    def kesah(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kesah", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    done = kesah("verify", "intake")
    assert done.returncode == 2 and "intake's database does not exist" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "titik.json").write_text("{}")
    done = kesah("audit", str(tmp_path / "titik.json"), "--url", "http://127.0.0.1:9/")
    assert done.returncode == 2 and "not a checkpoint" in done.stderr and "Traceback" not in done.stderr
