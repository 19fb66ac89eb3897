"""An agency's staff answers a complaint in the portal; the citizen sees it on the public page. Real Chromium."""

from __future__ import annotations

from tests.support.system import System, wait_until


def test_agency_staff_logs_in_answers_and_the_public_page_shows_it(system: System, desktop, screenshot) -> None:  # type: ignore[no-untyped-def]
    password = system.account("budi", "staff", "pupr")
    code = system.submit()["tracking_code"]
    system.routed(code)
    base = str(system.http.base_url).rstrip("/")

    desktop.goto(f"{base}/agency")
    desktop.wait_for_url("**/agency/login**")
    screenshot(desktop, "login")
    desktop.get_by_label("Nama pengguna").fill("budi")
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
