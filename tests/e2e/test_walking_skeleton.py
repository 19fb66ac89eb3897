"""A complaint goes in, is routed, answered and shown: real processes, real broker."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pika
import pytest

from kesah import broker
from tests.support import services
from tests.support.system import System, free_port, wait_until


def test_complaint_is_routed_answered_and_shown(system: System) -> None:
    started = time.monotonic()
    accepted = system.submit(reporter={"name": "Siti Aminah", "phone": "0812-5555-0101"})
    code = accepted["tracking_code"]
    doc = system.routed(code)
    seen_after = time.monotonic() - started
    print(f"submitted -> visible with agency in {seen_after:.3f}s")
    assert doc["agency"]["id"] == "pupr"  # "jalan", "berlubang"
    assert doc["status"] == "diteruskan"

    home = system.http.get("/")
    assert code in home.text and "Jalan berlubang di Jl. Awang Long" in home.text
    page = system.http.get(f"/aduan/{code}")
    assert page.status_code == 200
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in page.text

    system.assigned(code, "pupr")
    answer = system.answer(code, "pupr", "Lubang sudah kami tambal pada hari ini.")
    assert answer.status_code == 201, answer.text
    doc = system.wait_public(code, lambda c: c["responses"])
    assert doc["status"] == "dijawab"
    assert doc["responses"][0]["body"] == "Lubang sudah kami tambal pada hari ini."
    assert "Lubang sudah kami tambal" in system.http.get(f"/aduan/{code}").text
    assert [t["status"] for t in doc["timeline"]] == ["diterima", "diteruskan", "dijawab"]


def test_agency_can_answer_only_what_is_routed_to_it(system: System) -> None:
    code = system.submit()["tracking_code"]
    system.assigned(code, "pupr")

    other = system.answer(code, "dlh")
    assert other.status_code == 403
    assert "tidak diteruskan ke instansi Anda" in other.json()["message"]

    missing_token = system.http.post(f"/api/agency/complaints/{code}/responses", json={"body": "Halo semua"})
    assert missing_token.status_code == 401
    bad_token = system.http.post(
        f"/api/agency/complaints/{code}/responses",
        json={"body": "Halo semua"},
        headers={"authorization": "Bearer ke_not-a-token"},
    )
    assert bad_token.status_code == 401

    unknown = system.answer("ACDE-FHJK", "pupr")
    assert unknown.status_code == 404

    invalid = system.answer(code, "pupr", body="", status="selesai")
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"body", "status"}

    assert system.events("responses", ["ResponsePosted"]) == []


def test_invalid_submission_gets_field_errors_in_indonesian(system: System) -> None:
    response = system.http.post(
        "/api/complaints",
        json={"kind": "protes", "title": "", "kelurahan": "Menteng", "visibility": "public", "warna": "merah"},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["kind"] == ["Jenis harus salah satu dari: informasi, keluhan, pertanyaan, kritik, saran."]
    assert errors["body"] == ["Wajib diisi."]
    assert errors["kelurahan"] == ["Kelurahan tidak dikenal di Kota Bontang."]
    assert errors["warna"] == ["Kolom tidak dikenal."]
    assert "title" in errors

    not_json = system.http.post("/api/complaints", content=b"{oops", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.json()["message"] == "Badan permintaan harus berupa JSON yang valid."
    form = system.http.post("/api/complaints", data={"kind": "keluhan"})
    assert form.status_code == 415
    assert system.events("intake") == []


def test_nothing_is_lost_while_publicview_is_down(system: System) -> None:
    system.stop("publicview")
    codes = [
        system.submit(title=f"Sampah menumpuk di TPS nomor {i}", body="Sampah tidak diangkut sejak minggu lalu.")[
            "tracking_code"
        ]
        for i in range(100)
    ]
    # Routing keeps working while the public side is down.
    wait_until(lambda: len(system.events("routing", ["ComplaintRouted"])) == 100, 60, "100 routes")
    assert system.public(codes[0]) is None

    system.start("publicview")
    for code in codes:
        doc = system.routed(code, timeout=60)
        assert doc["agency"]["id"] == "dlh"


def test_the_same_event_delivered_twice_changes_nothing(system: System) -> None:
    code = system.submit()["tracking_code"]
    system.routed(code)
    submitted = system.events("intake", ["ComplaintSubmitted"])[0]
    routed = system.events("routing", ["ComplaintRouted"])[0]

    connection = pika.BlockingConnection(pika.URLParameters(system.settings.amqp_uri))
    channel = connection.channel()
    for event in (submitted, routed, submitted, routed):
        channel.basic_publish(
            broker.events_exchange(event.source),
            event.type,
            json.dumps(event.to_message()).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2),
        )
    connection.close()

    def drained() -> bool:
        return all(
            services.ready_messages(system.settings.amqp_uri, broker.inbox_queue(c)) == 0
            for c in ("routing", "responses", "publicview")
        )

    wait_until(drained, 20, "inboxes to drain")
    time.sleep(1.0)  # let the handlers holding the last messages finish
    assert len(system.events("routing", ["ComplaintRouted"])) == 1
    doc = system.public(code)
    assert doc is not None and len(doc["timeline"]) == 2
    from services.publicview.store import PublicView

    view = PublicView.open(system.settings)
    # The complaint's two events, once each, beside routing's seeded rule events.
    rules = len(system.events("routing", ["RoutingRuleAdded"]))
    assert view.journal_size() == 2 + rules
    view.engine.dispose()


def test_a_forged_event_is_dead_lettered_not_shown(system: System) -> None:
    genuine = system.submit()
    system.routed(genuine["tracking_code"])
    event = system.events("intake", ["ComplaintSubmitted"])[0].to_message()
    forged = {**event, "event_id": "00000000-0000-4000-8000-000000000001", "position": 999,
              "payload": {**event["payload"], "tracking_code": "ACDE-FHJK", "title": "Palsu: pemerintah bubar"}}

    connection = pika.BlockingConnection(pika.URLParameters(system.settings.amqp_uri))
    channel = connection.channel()
    channel.basic_publish("intake.events", "ComplaintSubmitted", json.dumps(forged).encode(),
                          pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()

    wait_until(
        lambda: services.ready_messages(system.settings.amqp_uri, broker.dead_letter_queue("publicview")) == 1,
        20, "the forged event in publicview's dead-letter queue",
    )
    assert system.public("ACDE-FHJK") is None
    assert "Palsu" not in system.http.get("/").text


@pytest.mark.broker_restart
def test_complaints_accepted_while_the_broker_is_down_are_delivered_once(system: System) -> None:
    before = system.submit()["tracking_code"]
    system.routed(before)
    services.rabbitmqctl("stop_app")
    try:
        codes = [
            system.submit(title=f"Lampu jalan mati di gang {i}", body="Lampu jalan dan rambu di simpang mati.")[
                "tracking_code"
            ]
            for i in range(20)
        ]
    finally:
        services.rabbitmqctl("start_app")
        services.wait_for_broker()
    for code in codes:
        doc = system.routed(code, timeout=90)
        assert doc["agency"]["id"] == "dishub"
    assert len(system.events("routing", ["ComplaintRouted"])) == 21
    from services.publicview.store import PublicView

    view = PublicView.open(system.settings)

    def journaled() -> dict[str, int]:
        import sqlalchemy as sa
        from services.publicview.store import journal

        with view.engine.connect() as conn:
            rows = conn.execute(sa.select(journal.c.type, sa.func.count()).group_by(journal.c.type))
            return {t: int(n) for t, n in rows}

    want = {"ComplaintSubmitted": 21, "ComplaintRouted": 21}
    try:
        wait_until(lambda: {t: journaled().get(t, 0) for t in want} == want, 30, f"journaled {want}")
    finally:
        print("journaled:", journaled())
    assert {t: journaled().get(t, 0) for t in want} == want
    view.engine.dispose()


def test_kesah_up_serves_everything_on_one_port_and_stops_cleanly(tmp_path, make_vhost) -> None:
    port = free_port()
    env = {
        "KESAH_DATA_DIR": str(tmp_path / "data"),
        "KESAH_AMQP_URI": services.amqp_uri(make_vhost()),
        "KESAH_HTTP_PORT": str(port),
        "PATH": "/usr/bin:/bin",
    }
    up = subprocess.Popen([sys.executable, "-m", "kesah", "up"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        def healthy() -> bool:
            try:
                return client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, 60, "kesah up to serve")
        created = client.post("/api/complaints", json={
            "kind": "pertanyaan", "title": "Cara mengurus KTP yang hilang",
            "body": "Bagaimana cara mengurus e-KTP yang hilang di Bontang?", "kelurahan": "Belimbing"})
        assert created.status_code == 201
        code = created.json()["tracking_code"]
        wait_until(lambda: client.get(f"/api/complaints/{code}").json().get("agency"), 30, "the route")
        assert client.get(f"/api/complaints/{code}").json()["agency"]["id"] == "disdukcapil"
    finally:
        client.close()
        up.send_signal(signal.SIGINT)
        output = up.communicate(timeout=60)[0].decode()
    assert up.returncode == 0, output
    assert "Stopped." in output
    assert processes_with_env(f"KESAH_DATA_DIR={tmp_path / 'data'}") == []


def processes_with_env(entry: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.encode() in environ:
            found.append(int(proc.name))
    return found
