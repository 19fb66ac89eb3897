"""A resident on a phone: report, get the code, track it, read the agency's answer."""

from __future__ import annotations

from pathlib import Path

from tests.support.photos import jpeg_with_gps
from tests.support.system import System

from .checks import check_page, tab_through


def test_a_citizen_reports_tracks_and_reads_the_answer_on_a_phone(  # type: ignore[no-untyped-def]
    system: System, phone, screenshot, tmp_path: Path
) -> None:
    base = str(system.http.base_url).rstrip("/")
    photo = tmp_path / "lampu.jpg"
    photo.write_bytes(jpeg_with_gps("Rahmat Hidayat"))

    phone.goto(base + "/")
    check_page(phone)
    screenshot(phone, "1-home")
    phone.get_by_role("link", name="Buat aduan").click()
    phone.wait_for_url("**/lapor")
    check_page(phone)
    # The keyboard reaches the skip link first, then the menu, then the form in reading order.
    reached = tab_through(phone, 1)
    assert reached == ["Langsung ke isi"]

    # Sending the empty form explains what is missing, next to each field.
    phone.get_by_role("button", name="Kirim aduan").click()
    assert phone.get_by_role("alert").is_visible()
    assert phone.locator("#title-error").inner_text() == "Judul harus 5 sampai 200 karakter."
    assert phone.locator("#kind-error").inner_text() == "Pilih jenis aduan."
    assert phone.locator("#kelurahan-error").inner_text() == "Pilih kelurahan lokasi aduan."
    assert phone.locator("#title").get_attribute("aria-invalid") == "true"
    assert "title-error" in phone.locator("#title").get_attribute("aria-describedby")
    check_page(phone)
    screenshot(phone, "2-form-errors")

    phone.get_by_label("Keluhan").check()
    phone.get_by_label("Judul").fill("Lampu jalan mati di Jl. Ahmad Yani")
    phone.get_by_label("Isi aduan").fill("Sudah seminggu lampu jalan di depan masjid mati, jalan gelap sekali.")
    phone.get_by_label("Kelurahan").select_option("Api-Api")
    phone.get_by_label("Alamat atau patokan lokasi").fill("Jl. Ahmad Yani, depan masjid")
    phone.get_by_label("Foto").set_input_files(str(photo))
    phone.get_by_label("Nama", exact=True).fill("Rahmat Hidayat")
    phone.get_by_label("Nomor telepon").fill("0812-3333-4444")
    screenshot(phone, "3-form-filled")
    phone.get_by_role("button", name="Kirim aduan").click()

    phone.wait_for_selector("#kode-aduan")
    code = phone.locator("#kode-aduan").inner_text()
    secret = phone.locator("#sandi-pelapor").inner_text()
    assert len(code) == 9 and code[4] == "-" and len(secret) == 10
    check_page(phone)
    screenshot(phone, "4-confirmation")

    # Track it the way people type a code: lower case, no dash.
    phone.goto(base + "/")
    phone.get_by_label("Kode aduan").fill(code.replace("-", "").lower())
    phone.get_by_role("button", name="Lacak").click()
    phone.wait_for_url(f"**/aduan/{code}")
    assert phone.get_by_role("heading", level=1).inner_text() == "Lampu jalan mati di Jl. Ahmad Yani"

    system.routed(code)
    phone.reload()
    assert phone.locator("strong.agency").inner_text() == "Dinas Perhubungan"
    screenshot(phone, "5-tracked-routed")

    assert system.answer(code, "dishub", "Lampu sudah kami ganti pada hari Senin.").status_code == 201
    system.wait_public(code, lambda c: c["responses"])
    phone.reload()
    assert "Lampu sudah kami ganti pada hari Senin." in phone.locator(".response").inner_text()
    assert phone.locator(".badge").first.inner_text() == "Dijawab"
    assert "Dinas Perhubungan menjawab." in phone.locator(".timeline").inner_text()
    # The photo is shown (served by intake, metadata stripped) and nobody's name is on the page.
    assert phone.locator("figure.photo img").evaluate("img => img.complete && img.naturalWidth") == 640
    assert "Rahmat" not in phone.content() and "0812-3333-4444" not in phone.content()
    check_page(phone)
    screenshot(phone, "6-answered")
