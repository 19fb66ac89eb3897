"""Posts from social media become complaints, exactly once: real processes, real broker, real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from services.intake.channels import sign
from tests.support.system import System

FIXTURES = Path(__file__).parent.parent / "fixtures"
APP_SECRET = "meta-app-secret-e2e"
VERIFY_TOKEN = "kesah-verify-e2e"
X_SECRET = "x-bridge-secret-e2e"
CHANNEL_ENV = {
    "KESAH_META_APP_SECRET": APP_SECRET,
    "KESAH_META_VERIFY_TOKEN": VERIFY_TOKEN,
    "KESAH_CHANNEL_SECRETS": f"x={X_SECRET},sms=sms-secret",
}


@pytest.fixture
def channels_system(make_system: Callable[..., System]) -> System:
    return make_system(extra_env=CHANNEL_ENV).start()


def meta_delivery(system: System, body: bytes, secret: str | None = APP_SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-hub-signature-256"] = sign(secret, body)
    return system.http.post("/api/intake/meta", content=body, headers=headers)


def submitted(system: System) -> list[Any]:
    return system.events("intake", ["ComplaintSubmitted"])


def kesah(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kesah", *args], env=system.env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def assert_author_hidden(system: System, code: str, *contact: str) -> None:
    """Neither the public page, its JSON, the home page nor any intake event names the author."""
    seen = [system.http.get(f"/aduan/{code}").text, system.http.get(f"/api/complaints/{code}").text,
            system.http.get("/").text] + [json.dumps(e.payload) for e in submitted(system)]
    for value in contact:
        assert not any(value in text for text in seen), value


def test_a_meta_webhook_creates_a_complaint_once_and_a_forged_one_nothing(channels_system: System) -> None:
    system = channels_system

    # Meta's subscription check.
    check = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = system.http.get("/api/intake/meta", params=check)
    assert answer.status_code == 200 and answer.text == "1158201444"
    wrong = system.http.get("/api/intake/meta", params={**check, "hub.verify_token": "guess"})
    assert wrong.status_code == 403 and wrong.json()["message"] == "Verifikasi webhook gagal."

    # A page comment: submitted, routed and shown, naming its channel and not its author.
    body = (FIXTURES / "meta/facebook_feed_comment.json").read_bytes()
    response = meta_delivery(system, body)
    assert response.status_code == 200, response.text
    assert response.json()["submitted"] == 1
    code = response.json()["posts"][0]["tracking_code"]
    doc = system.routed(code)
    assert doc["agency"]["id"] == "dishub"  # "lampu jalan"
    assert (doc["kind"], doc["kelurahan"], doc["channel"]) == ("keluhan", "Gunung Elai", "facebook")
    page = system.http.get(f"/aduan/{code}")
    assert "Melalui Facebook" in page.text and "lampu jalan di Jl. Gunung Elai" in page.text
    (event,) = submitted(system)
    assert event.version == 2
    assert event.payload["source_id"] == "889900112233445_1122334455667788"
    assert event.payload["source_url"].startswith("https://www.facebook.com/")
    assert_author_hidden(system, code, "Rahmat", "7012345678901234")

    # Meta retries: the same delivery again creates nothing.
    again = meta_delivery(system, body)
    assert again.status_code == 200 and again.json()["duplicate"] == 1 and again.json()["submitted"] == 0
    assert len(submitted(system)) == 1

    # Forged or altered deliveries: 403 and nothing created.
    instagram = (FIXTURES / "meta/instagram_comment.json").read_bytes()
    for forged in (meta_delivery(system, instagram, secret="guessed-secret"), meta_delivery(system, instagram, None),
                   system.http.post("/api/intake/meta", content=instagram.replace(b"menumpuk", b"bersih"),
                                    headers={"content-type": "application/json",
                                             "x-hub-signature-256": sign(APP_SECRET, instagram)})):
        assert forged.status_code == 403, forged.text
        assert forged.json()["message"] == "Tanda tangan kiriman tidak sah."
    assert len(submitted(system)) == 1
    assert system.http.get("/").text.count("/aduan/") == 1

    # The genuine Instagram comment and WhatsApp message; receipts and the page's own replies are acknowledged.
    codes = {}
    for name in ("instagram_comment", "whatsapp_text", "messenger_message", "whatsapp_status",
                 "facebook_feed_other_changes"):
        response = meta_delivery(system, (FIXTURES / f"meta/{name}.json").read_bytes())
        assert response.status_code == 200, response.text
        codes[name] = [p["tracking_code"] for p in response.json()["posts"]]
    assert codes["whatsapp_status"] == codes["facebook_feed_other_changes"] == []
    wa = system.routed(codes["whatsapp_text"][0])
    assert (wa["channel"], wa["kelurahan"], wa["agency"]["id"]) == ("whatsapp", "Bontang Baru", "pdam")
    ig = system.routed(codes["instagram_comment"][0])
    assert (ig["channel"], ig["kelurahan"], ig["agency"]["id"]) == ("instagram", "Tanjung Laut", "dlh")
    question = system.routed(codes["messenger_message"][0])
    assert (question["kind"], question["kelurahan"]) == ("pertanyaan", "Kanaan")
    assert len(submitted(system)) == 4
    assert_author_hidden(system, wa["tracking_code"], "6281255550101", "Siti Aminah")
    assert_author_hidden(system, ig["tracking_code"], "warga.tanjunglaut")

    # The author is kept where contact data belongs: intake's vault.
    from services.intake.store import Intake

    by_channel = {e.payload["channel"]: e.stream_id for e in submitted(system)}
    intake = Intake.open(system.settings)
    assert intake.contact(by_channel["whatsapp"]) == {"phone": "6281255550101", "name": "Siti Aminah"}
    assert intake.contact(by_channel["instagram"]) == {"handle": "warga.tanjunglaut", "id": "1789012345678901"}
    intake.store.engine.dispose()


def test_a_signed_channel_and_a_post_an_operator_completes(channels_system: System) -> None:
    system = channels_system
    payload = json.loads((FIXTURES / "channels/x_posts.json").read_text())

    def deliver(body: dict[str, Any], secret: str = X_SECRET, channel: str = "x") -> httpx.Response:
        raw = json.dumps(body).encode()
        return system.http.post(f"/api/intake/channels/{channel}", content=raw,
                                headers={"content-type": "application/json", "x-kesah-signature": sign(secret, raw)})

    stale = deliver({**payload, "sent_at": time.time() - 3600})
    assert stale.status_code == 403
    assert deliver({**payload, "sent_at": time.time()}, secret="sms-secret").status_code == 403
    assert deliver({**payload, "sent_at": time.time()}, channel="telegram").status_code == 404
    invalid = deliver({"sent_at": time.time(), "posts": [{"id": "1"}]})
    assert invalid.status_code == 422 and invalid.json()["errors"]["posts"]["0"]["text"] == ["Wajib diisi."]
    assert submitted(system) == []

    response = deliver({**payload, "sent_at": time.time()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["submitted"], body["waiting"]) == (1, 1)
    first = system.routed(body["posts"][0]["tracking_code"])
    assert (first["kind"], first["kelurahan"], first["channel"]) == ("keluhan", "Gunung Telihan", "x")
    (event,) = submitted(system)
    assert event.payload["source_url"] == "https://x.com/i/status/1861234567890123456"
    assert_author_hidden(system, first["tracking_code"], "andi_btg")
    replay = deliver({**payload, "sent_at": time.time()})
    assert (replay.json()["duplicate"], replay.json()["submitted"]) == (2, 0)

    # "Selamat pagi Bontang" tells neither kind nor kelurahan: it waits for an operator.
    listed = kesah(system, "posts", "waiting")
    assert listed.returncode == 0, listed.stderr
    assert "needs kind and kelurahan" in listed.stdout and "Selamat pagi Bontang" in listed.stdout
    post_id = listed.stdout.split()[0]
    refused = kesah(system, "posts", "complete", post_id, "--kelurahan", "Menteng")
    assert refused.returncode == 2 and "not a kelurahan of Bontang" in refused.stderr
    done = kesah(system, "posts", "complete", post_id, "--kind", "informasi", "--kelurahan", "satimpo")
    assert done.returncode == 0, done.stderr
    code = done.stdout.split("submitted as complaint ")[1].split()[0]
    # No routing rule matches a greeting: it waits in the operator's routing queue.
    doc = system.wait_public(code, lambda c: c["awaiting_routing"])
    assert (doc["kind"], doc["kelurahan"], doc["channel"]) == ("informasi", "Satimpo", "x")
    assert "Melalui X (Twitter)" in system.http.get(f"/aduan/{code}").text
    assert kesah(system, "posts", "waiting").stdout.strip() == "no posts are waiting"
    assert len(submitted(system)) == 2


def test_an_operator_completes_a_waiting_post_in_the_portal(channels_system: System) -> None:
    system = channels_system
    raw = json.dumps({**json.loads((FIXTURES / "channels/x_posts.json").read_text()), "sent_at": time.time()}).encode()
    delivered = system.http.post("/api/intake/channels/x", content=raw,
                                 headers={"content-type": "application/json", "x-kesah-signature": sign(X_SECRET, raw)})
    assert delivered.json()["waiting"] == 1
    system.account("ops", "operator")
    system.account("ani", "staff", "pupr")
    ops, ani = system.portal("ops"), system.portal("ani")
    assert ani.get("/agency/posts").status_code == 403

    page = ops.get("/agency/posts")
    assert page.status_code == 200 and "Selamat pagi Bontang" in page.text
    assert "andi_btg" not in page.text and "Andi" not in page.text  # the author stays in intake
    post_id = re.search(r'name="post_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    fields = {"post_id": post_id, "kind": "informasi", "kelurahan": "Satimpo"}
    assert ops.post("/agency/posts", fields, csrf=False).status_code == 403
    assert ani.post("/agency/posts", fields).status_code == 403
    unknown = ops.post("/agency/posts", {**fields, "kelurahan": "Menteng"})
    assert unknown.status_code == 422 and "Pilih kelurahan lokasi aduan." in unknown.text

    done = ops.post("/agency/posts", fields)
    assert done.status_code == 303, done.text
    code = done.headers["location"].split("kode=")[1]
    doc = system.wait_public(code, lambda c: c["awaiting_routing"])
    assert (doc["kind"], doc["kelurahan"], doc["channel"]) == ("informasi", "Satimpo", "x")
    again = ops.post("/agency/posts", fields)
    assert again.status_code == 409 and f"Kiriman itu sudah menjadi aduan {code}." in again.text
    unknown_post = ops.post("/agency/posts", {**fields, "post_id": "tidak-ada"})
    assert unknown_post.status_code == 404 and "Kiriman itu tidak ditemukan." in unknown_post.text
    listed = ops.get(f"/agency/posts?ok=post-submitted&kode={code}").text
    assert "Tidak ada kiriman yang menunggu." in listed and f'href="/aduan/{code}"' in listed
    assert len(submitted(system)) == 2
