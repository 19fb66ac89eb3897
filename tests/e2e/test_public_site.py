"""The public site over real processes: list, search, statistics, freshness, open data."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kesah.contracts import RecordedEvent
from tests.support.system import System, wait_until


@pytest.fixture(scope="module")
def site(shared_system: System) -> dict[str, Any]:
    """A public complaint routed and answered, an anonymous one, a confidential one."""
    system = shared_system
    road = system.submit(reporter={"name": "Budi Santoso", "phone": "0812-7777-1234"})["tracking_code"]
    trash = system.submit(kind="saran", title="Tambah tong sampah di taman", kelurahan="Loktuan",
                          body="Mohon tong sampah ditambah di taman kota Loktuan.", visibility="anonymous",
                          address="")["tracking_code"]
    secret = system.submit(title="Pungutan liar di kantor kelurahan", visibility="confidential",
                           body="Petugas meminta uang untuk surat pengantar.")["tracking_code"]
    system.routed(road)
    assert system.answer(road, "pupr", "Lubang sudah kami tambal pagi ini.").status_code == 201
    system.wait_public(road, lambda c: c["responses"])
    system.routed(trash)
    system.wait_public(secret)
    return {"road": road, "trash": trash, "secret": secret}


def codes_in(html: str, *codes: str) -> set[str]:
    return {c for c in codes if f"/aduan/{c}" in html}


def test_the_list_filters_and_searches(shared_system: System, site: dict[str, Any]) -> None:
    http, road, trash, secret = shared_system.http, site["road"], site["trash"], site["secret"]
    everything = http.get("/aduan").text
    assert codes_in(everything, road, trash, secret) == {road, trash}  # confidential: never listed
    assert codes_in(http.get("/aduan", params={"q": "tambal"}).text, road, trash) == {road}  # answers are searched
    assert codes_in(http.get("/aduan", params={"q": "sampah taman"}).text, road, trash) == {trash}
    assert codes_in(http.get("/aduan", params={"jenis": "saran"}).text, road, trash) == {trash}
    assert codes_in(http.get("/aduan", params={"kelurahan": "Loktuan"}).text, road, trash) == {trash}
    assert codes_in(http.get("/aduan", params={"instansi": "pupr", "status": "dijawab"}).text, road, trash) == {road}
    assert codes_in(http.get("/aduan", params={"q": "pungutan"}).text, secret) == set()
    odd = http.get("/aduan", params={"jenis": "protes", "q": '") OR 1=1 --', "dari": "x"})
    assert odd.status_code == 200 and "Sebagian filter diabaikan" in odd.text
    assert http.get("/aduan", params={"halaman": "999"}).status_code == 200

    page = http.get(f"/aduan/{secret}")
    assert page.status_code == 200 and "bersifat rahasia" in page.text and "Pungutan" not in page.text
    assert set(http.get(f"/api/complaints/{secret}").json()) == {"tracking_code", "visibility", "message",
                                                                 "submitted_at"}
    assert http.get(f"/lacak?kode={road.lower().replace('-', '')}", follow_redirects=False).headers[
        "location"] == f"/aduan/{road}"
    assert http.get("/lacak?kode=AAAA-AAAA").status_code == 404
    assert http.get("/aduan/ZZZZ-ZZZZ").status_code == 404


def test_statistics_and_freshness(shared_system: System, site: dict[str, Any]) -> None:
    http = shared_system.http
    stats = http.get("/statistik")
    assert stats.status_code == 200
    assert stats.text.count("<svg") == 3 and 'role="img"' in stats.text
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in stats.text and "100%" in stats.text

    def fresh() -> dict[str, Any] | None:
        status = http.get("/api/status").json()
        heads = {s["source"]: s for s in status["sources"]}
        return status if all(h["head"] is not None and h["lag"] == 0 for h in heads.values()) else None

    status = wait_until(fresh, 30, "every source's head known and nothing missing")
    assert status["checkpoint"] == status["journal"] and status["projection_lag"] == 0
    heads = {s["source"]: s for s in status["sources"]}
    assert heads["intake"]["head"] == len(shared_system.events("intake"))
    page = http.get("/status").text
    assert "Checkpoint proyeksi" in page and f'<dd id="checkpoint">{status["checkpoint"]}</dd>' in page


def test_open_data_is_complete_verifiable_and_keeps_confidential_content_out(
    shared_system: System, site: dict[str, Any]
) -> None:
    http, road, trash, secret = shared_system.http, site["road"], site["trash"], site["secret"]
    assert "Kamus data" in http.get("/data").text
    table = list(csv.DictReader(io.StringIO(http.get("/data/aduan.csv").text)))
    by_code = {r["tracking_code"]: r for r in table}
    assert set(by_code) >= {road, trash} and secret not in by_code
    assert by_code[road]["agency_id"] == "pupr" and by_code[road]["response_count"] == "1"
    documents = {d["tracking_code"]: d for d in http.get("/data/aduan.json").json()}
    assert documents[road]["responses"][0]["body"] == "Lubang sudah kami tambal pagi ini." and secret not in documents

    keys = http.get("/data/kunci-publik.json").json()["keys"]
    events = http.get("/data/peristiwa.json").json()
    assert [(e["source"], e["position"]) for e in events] == sorted((e["source"], e["position"]) for e in events)
    for source in ("intake", "routing", "responses"):
        chain = [e for e in events if e["source"] == source]
        assert [e["position"] for e in chain] == list(range(1, len(chain) + 1))  # the whole log, no gaps
        for before, after in zip(chain, chain[1:]):
            assert after["prev_hash"] == before["hash"]
    for event in events:  # every signature checks out against the published keys
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[event["source"]][event["key_id"]]))
        key.verify(base64.b64decode(event["signature"]), bytes.fromhex(event["hash"]))
        if not event["redacted"]:
            assert RecordedEvent(**{k: v for k, v in event.items() if k != "redacted"}).computed_hash() == event["hash"]
    hidden = [e for e in events if e["redacted"]]
    assert hidden and all(e["payload"] is None for e in hidden)
    assert "Pungutan" not in json.dumps(events) and "Pungutan" not in http.get("/data/peristiwa.csv").text
    assert len(list(csv.DictReader(io.StringIO(http.get("/data/peristiwa.csv").text)))) == len(events)


def test_pages_carry_the_security_headers(shared_system: System) -> None:
    for path in ("/", "/aduan", "/lapor", "/statistik", "/data", "/open311/v2/services.xml"):
        headers = shared_system.http.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "unsafe-inline" not in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path


def test_the_form_refuses_what_it_cannot_take(shared_system: System) -> None:
    http = shared_system.http
    fields = {"kind": "keluhan", "title": "Jalan rusak", "body": "Jalan rusak di depan rumah.", "kelurahan": "Kanaan"}
    huge = http.post("/lapor", data=fields, files={"photo": ("besar.jpg", b"\xff" * (6 * 1024 * 1024), "image/jpeg")})
    assert huge.status_code == 413 and "Kiriman terlalu besar: foto paling besar 5 MB" in huge.text
    fake = http.post("/lapor", data=fields, files={"photo": ("foto.jpg", b"<svg onload=alert(1)>", "image/jpeg")})
    assert fake.status_code == 422 and 'id="photo-error"' in fake.text and "bukan foto" in fake.text
    assert 'value="Jalan rusak"' in fake.text  # what was typed is kept
    anonymous = http.post("/lapor", data={**fields, "visibility": "anonymous", "phone": "0812-1111-2222"})
    assert anonymous.status_code == 422 and "Aduan anonim tidak menyimpan data pelapor" in anonymous.text
    done = http.post("/lapor", data=fields)
    assert done.status_code == 201 and done.headers["cache-control"] == "no-store"
