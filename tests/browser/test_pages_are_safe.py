"""Script and markup sent in every text field stay text on every page; every page works on a phone."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.system import System

from .checks import check_page

PAYLOAD = ('<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
           '<b id="xss-marker">tebal</b><svg onload="window.__xss=3"></svg> "\' &amp; {{7*7}}')
INERT = """() => ({
  scripts: document.scripts.length,
  marker: document.querySelectorAll('#xss-marker').length,
  handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  flagged: window.__xss === undefined ? null : window.__xss,
})"""


@pytest.fixture(scope="module")
def hostile(shared_system: System) -> dict[str, str]:
    """A complaint with the payload in every text field, routed and answered with it too."""
    system = shared_system
    code = system.submit(title="Lampu jalan " + PAYLOAD, body="Isi: " + PAYLOAD, address=PAYLOAD,
                         reporter={"name": PAYLOAD[:100]})["tracking_code"]
    system.routed(code)
    assert system.answer(code, "dishub", "Jawaban: " + PAYLOAD).status_code == 201
    system.wait_public(code, lambda c: c["responses"])
    return {"code": code}


def visit(page: Any, url: str) -> dict[str, Any]:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    result = page.evaluate(INERT)
    result["dialogs"] = dialogs
    return result


SAFE = {"scripts": 0, "marker": 0, "handlers": 0, "flagged": None, "dialogs": []}


def test_script_and_markup_in_every_field_stay_text_on_every_page(  # type: ignore[no-untyped-def]
    shared_system: System, hostile: dict[str, str], phone, screenshot
) -> None:
    base = str(shared_system.http.base_url).rstrip("/")
    code = hostile["code"]
    pages = ["/", "/aduan", f"/aduan?q={quote(PAYLOAD)}", f"/aduan?jenis={quote(PAYLOAD)}", f"/aduan/{code}",
             f"/lacak?kode={quote(PAYLOAD)}", "/statistik", "/status", "/transparansi", "/data", "/lapor", "/tidak-ada"]
    for path in pages:
        assert visit(phone, base + path) == SAFE, path
    phone.goto(f"{base}/aduan/{code}")
    text = phone.locator("main").inner_text()
    for shown in ("Lampu jalan " + PAYLOAD, "Isi: " + PAYLOAD, "Lokasi: " + PAYLOAD, "Jawaban: " + PAYLOAD):
        assert shown in text  # the very characters, shown as text
    assert PAYLOAD not in phone.content().replace("&amp;amp;", "")  # never as markup in the HTML
    screenshot(phone, "hostile-complaint")

    # The form echoes what was typed when something is wrong, and it stays text there too.
    phone.goto(base + "/lapor")
    phone.get_by_label("Keluhan").check()
    phone.get_by_label("Judul").fill("Judul " + PAYLOAD[:150])
    phone.get_by_label("Isi aduan").fill(PAYLOAD)
    phone.get_by_label("Kelurahan").select_option("Guntung")
    phone.get_by_label("Alamat atau patokan lokasi").fill(PAYLOAD)
    phone.get_by_label("Nama", exact=True).fill(PAYLOAD[:100])
    phone.get_by_label("Email").fill("bukan-email" + PAYLOAD[:20])
    phone.get_by_role("button", name="Kirim aduan").click()
    assert phone.locator("#email-error").is_visible()
    assert phone.evaluate(INERT) == {k: v for k, v in SAFE.items() if k != "dialogs"}
    assert phone.get_by_label("Isi aduan").input_value() == PAYLOAD
    screenshot(phone, "hostile-form-echo")

    # Sent properly, it becomes a complaint whose confirmation and page are just as inert.
    phone.get_by_label("Email").fill("")
    phone.get_by_role("button", name="Kirim aduan").click()
    phone.wait_for_selector("#kode-aduan")
    assert phone.evaluate(INERT) == {k: v for k, v in SAFE.items() if k != "dialogs"}
    second = phone.locator("#kode-aduan").inner_text()
    shared_system.wait_public(second)
    assert visit(phone, f"{base}/aduan/{second}") == SAFE


def test_every_page_works_on_a_phone(shared_system: System, hostile: dict[str, str], phone, screenshot) -> None:  # type: ignore[no-untyped-def]
    base = str(shared_system.http.base_url).rstrip("/")
    for name, path in (("list", "/aduan"), ("list-filtered", "/aduan?jenis=keluhan&instansi=dishub&q=lampu"),
                       ("track", "/lacak"), ("statistics", "/statistik"), ("status", "/status"),
                       ("transparency-empty", "/transparansi"), ("open-data", "/data"), ("not-found", "/aduan/AAAA-AAAA")):
        phone.goto(base + path)
        check_page(phone)
        screenshot(phone, name)
    phone.goto(base + "/aduan?jenis=keluhan&instansi=dishub&q=lampu")
    assert phone.locator("details").get_attribute("open") is not None  # active filters stay visible
    assert phone.locator("li.complaint").count() >= 1
    phone.goto(base + "/statistik")
    assert phone.locator("svg.chart").count() == 3
    assert phone.locator("svg.chart title").first.text_content() == "Jumlah aduan per instansi"
