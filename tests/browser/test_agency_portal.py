"""An agency's staff answers a complaint in the portal; the citizen sees it on the public page. Real Chromium."""

from __future__ import annotations

import json
import time
from typing import Callable

from services.intake.channels import sign
from tests.support.system import System, wait_until


def test_agency_staff_logs_in_answers_and_the_public_page_shows_it(system: System, desktop, screenshot) -> None:  # type: ignore[no-untyped-def]
    password = system.account("budi", "staff", "pupr")
    code = system.submit()["tracking_code"]
    system.routed(code)
    base = str(system.http.base_url).rstrip("/")

    desktop.goto(f"{base}/agency")
    desktop.wait_for_url("**/agency/login**")
    screenshot(desktop, "login")
    # A typo first: the one refusal, the username kept in the form.
    desktop.get_by_label("Nama pengguna").fill("budi")
    desktop.get_by_label("Kata sandi").fill("bukan-kata-sandinya")
    desktop.get_by_role("button", name="Masuk").click()
    refusal = desktop.get_by_role("alert").inner_text()
    assert refusal.startswith("Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal.")
    assert desktop.get_by_label("Nama pengguna").input_value() == "budi"
    screenshot(desktop, "login-refused")
    desktop.get_by_label("Kata sandi").fill(password)
    desktop.get_by_role("button", name="Masuk").click()

    desktop.wait_for_url("**/agency/inbox")
    assert code in desktop.locator("table").inner_text()
    screenshot(desktop, "inbox")
    desktop.get_by_role("link", name=code).click()

    desktop.wait_for_url(f"**/agency/complaints/{code}")
    screenshot(desktop, "complaint")
    desktop.get_by_label("Jawaban (tampil untuk umum)").fill("Lubang sudah kami tambal pagi ini.")
    desktop.get_by_label("Dijawab (selesai ditangani)").check()
    desktop.get_by_role("button", name="Kirim jawaban").click()
    desktop.wait_for_url(f"**/agency/complaints/{code}?ok=answered")
    assert "Jawaban terkirim" in desktop.locator("[role=status]").inner_text()
    screenshot(desktop, "answered")

    def public_page_has_the_answer() -> bool:
        desktop.goto(f"{base}/aduan/{code}")
        return "Lubang sudah kami tambal pagi ini." in desktop.locator("main").inner_text()

    wait_until(public_page_has_the_answer, 20, "the answer on the public complaint page", interval=0.3)
    assert desktop.locator(".badge").first.inner_text() == "Dijawab"
    screenshot(desktop, "public-complaint")


def test_an_operator_turns_a_waiting_post_into_a_complaint(make_system: Callable[..., System], desktop,  # type: ignore[no-untyped-def]
                                                           screenshot) -> None:
    system = make_system(extra_env={"KESAH_CHANNEL_SECRETS": "sms=sms-secret"}).start()
    # An SMS that names no kelurahan: intake keeps it for an operator.
    raw = json.dumps({"sent_at": time.time(), "posts": [
        {"id": "sms-77", "text": "Lampu jalan di dekat masjid padam sejak tiga hari", "author": "+6281234567890"},
    ]}).encode()
    delivered = system.http.post("/api/intake/channels/sms", content=raw, headers={
        "content-type": "application/json", "x-kesah-signature": sign("sms-secret", raw)})
    assert delivered.json()["waiting"] == 1, delivered.text
    password = system.account("ops", "operator")
    base = str(system.http.base_url).rstrip("/")

    desktop.goto(f"{base}/agency/login")
    desktop.get_by_label("Nama pengguna").fill("ops")
    desktop.get_by_label("Kata sandi").fill(password)
    desktop.get_by_role("button", name="Masuk").click()
    desktop.wait_for_url("**/agency/inbox**")
    desktop.get_by_role("link", name="Kiriman media sosial").click()
    desktop.wait_for_url("**/agency/posts")
    post = desktop.locator("article", has_text="Lampu jalan di dekat masjid padam")
    assert "6281234567890" not in desktop.locator("main").inner_text()
    screenshot(desktop, "waiting")
    post.get_by_label("Jenis").select_option(label="Keluhan")
    post.get_by_label("Kelurahan").select_option(label="Api-Api")
    post.get_by_role("button", name="Jadikan aduan").click()

    desktop.wait_for_url("**/agency/posts?ok=post-submitted**")
    assert "Kiriman menjadi aduan" in desktop.locator("[role=status]").inner_text()
    assert "Tidak ada kiriman yang menunggu." in desktop.locator("main").inner_text()
    screenshot(desktop, "submitted")
    desktop.get_by_role("link", name="Lihat aduan").click()
    desktop.wait_for_url("**/aduan/**")
    code = desktop.url.rsplit("/", 1)[1]
    doc = system.wait_public(code, lambda c: c is not None)
    assert (doc["kind"], doc["kelurahan"], doc["channel"]) == ("keluhan", "Api-Api", "sms")

