from __future__ import annotations

from tests.support.system import System


def test_a_citizen_reads_a_routed_and_answered_complaint_on_a_phone(system: System, phone, screenshot) -> None:  # type: ignore[no-untyped-def]
    code = system.submit()["tracking_code"]
    system.routed(code)
    assert system.answer(code, "pupr", "Lubang sudah kami tambal.").status_code == 201
    system.wait_public(code, lambda c: c["responses"])

    phone.goto(system.http.base_url.join("/").__str__())
    screenshot(phone, "home")
    phone.get_by_role("link", name="Jalan berlubang di Jl. Awang Long").click()
    phone.wait_for_url(f"**/aduan/{code}")
    assert phone.locator("strong.agency").inner_text() == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert "Lubang sudah kami tambal." in phone.locator(".response").inner_text()
    # The page fits a phone: nothing wider than the viewport.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "complaint")
