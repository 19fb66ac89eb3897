"""publicview repairs what it owns by itself; the alert says what happened."""

from __future__ import annotations

import json
from typing import Callable, Iterator

import pytest
import sqlalchemy as sa

from tests.support.system import System, wait_until
from tests.support.webhook import AlertReceiver


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    yield receiver
    receiver.close()


def sql(system: System, *statements: tuple[str, dict]) -> None:
    """The intruder's statements, in one transaction."""
    with system.store("publicview").engine.begin() as conn:
        for statement, params in statements:
            conn.execute(sa.text(statement), params)


def test_projection_rows_altered_by_sql_are_healed_without_an_operator(
    make_system: Callable[..., System], receiver: AlertReceiver,
) -> None:
    system = make_system(extra_env={"KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url}).start()
    altered = system.submit(title="Jalan berlubang di depan sekolah")["tracking_code"]
    deleted = system.submit(title="Sampah menumpuk di pasar", body="Sampah tidak diangkut seminggu.")["tracking_code"]
    system.routed(altered)
    system.routed(deleted)
    assert system.answer(altered, "pupr", "Lubang sudah kami tambal.").status_code == 201
    genuine = system.wait_public(altered, lambda c: c["responses"])
    wait_until(lambda: (r := system.probe("publicview")) is not None and r.status_code == 200, 30, "ready")

    # An intruder edits one complaint's page, deletes another and plants a fake one.
    document = json.loads(json.dumps(genuine))
    with system.store("publicview").engine.connect() as conn:
        row = dict(conn.execute(sa.text("SELECT * FROM complaints WHERE tracking_code = :c"), {"c": altered})
                   .mappings().one())
    stored = json.loads(row["document"])
    stored.update(title="Pemerintah tidak peduli", status="selesai")
    fake = {**stored, "complaint_id": "00000000-0000-4000-8000-00000000fa4e", "tracking_code": "ACDE-FHJK",
            "title": "Aduan palsu yang tidak pernah ada"}
    sql(system,
        ("UPDATE complaints SET document = :d, status = 'selesai' WHERE tracking_code = :c",
         {"d": json.dumps(stored), "c": altered}),
        ("DELETE FROM complaints WHERE tracking_code = :c", {"c": deleted}),
        ("INSERT INTO complaints (complaint_id, tracking_code, visibility, kind, kelurahan, status, agency_id,"
         " submitted_at, updated_at, document) VALUES (:id, 'ACDE-FHJK', 'public', 'keluhan', :kel, 'diterima',"
         " NULL, :at, :at, :doc)",
         {"id": fake["complaint_id"], "kel": row["kelurahan"], "at": row["submitted_at"], "doc": json.dumps(fake)}))

    # The public site shows the right data again, and nobody had to do anything.
    wait_until(lambda: (system.public(altered) or {}).get("title") == document["title"], 30,
               "the altered complaint healed")
    assert system.public(altered)["status"] == "dijawab"
    wait_until(lambda: system.public(deleted) is not None, 30, "the deleted complaint back")
    wait_until(lambda: system.public("ACDE-FHJK") is None, 30, "the fake complaint gone")
    assert "Pemerintah tidak peduli" not in system.http.get(f"/aduan/{altered}").text

    alert = wait_until(lambda: receiver.received(service="publicview", check="projection", status="firing"), 30,
                       "the alert")[0]
    assert "healed: 3 complaint(s) projected again" in alert["summary"], alert
    wait_until(lambda: receiver.received(service="publicview", check="projection", status="resolved"), 30,
               "the alert resolved")
    code, output = system.kesah("verify", "publicview")
    assert code == 0, output


def test_lag_that_stays_high_makes_publicview_unready_and_alerts(
    make_system: Callable[..., System], receiver: AlertReceiver,
) -> None:
    system = make_system(extra_env={"KESAH_VERIFY_INTERVAL": "0.5", "KESAH_ALERT_WEBHOOK": receiver.url,
                                    "KESAH_LAG_ALERT_EVENTS": "3", "KESAH_LAG_ALERT_SECONDS": "1"}).start()
    system.routed(system.submit()["tracking_code"])
    wait_until(lambda: (r := system.probe("publicview")) is not None and r.status_code == 200, 30, "ready")
    # Publicview has compared its journal with every owner's head once (its start-up catch-up, over
    # RPC): from now on only the relay brings it events.
    wait_until(lambda: all(s["head"] is not None for s in system.http.get("/api/status").json()["sources"]), 30,
               "every owner's head known")

    system.stop("relay")  # intake keeps accepting; nothing reaches publicview
    codes = [system.submit(title=f"Lampu jalan mati nomor {i}")["tracking_code"] for i in range(6)]
    unready = wait_until(lambda: (r := system.probe("publicview")) is not None and r.status_code == 503 and r.json(),
                         60, "publicview unready for lag")
    assert "events behind the owners' logs" in unready["checks"]["lag"]
    assert "kesah_lag_events" in system.probe("publicview", "/metrics").text
    alert = wait_until(lambda: receiver.received(service="publicview", check="lag", status="firing"), 30, "alert")
    assert "is the relay or publicview's consumer stuck" in alert[0]["summary"]

    system.start("relay")
    for code in codes:
        system.routed(code, timeout=60)
    wait_until(lambda: receiver.received(service="publicview", check="lag", status="resolved"), 60, "resolved")
    wait_until(lambda: system.probe("publicview").status_code == 200, 30, "ready again")
