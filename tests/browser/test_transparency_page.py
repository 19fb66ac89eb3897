from __future__ import annotations

from typing import Callable

from tests.browser.checks import check_page
from tests.support.system import System, wait_until


def test_the_transparency_page_lists_signed_checkpoints_and_keys_on_a_phone(
    make_system: Callable[..., System], phone, screenshot,  # type: ignore[no-untyped-def]
) -> None:
    system = make_system(extra_env={"KESAH_CHECKPOINT_INTERVAL": "1", "KESAH_VERIFY_INTERVAL": "0.5"}).start()
    system.routed(system.submit()["tracking_code"])
    wait_until(lambda: {c["source"] for c in system.http.get("/transparansi.json").json()["checkpoints"]}
               >= {"intake", "routing"}, 60, "checkpoints of intake and routing")

    phone.goto(str(system.http.base_url.join("/")))
    phone.get_by_role("link", name="Transparansi").click()
    phone.wait_for_url("**/transparansi")
    assert phone.get_by_role("heading", level=1).inner_text() == "Transparansi: titik periksa log"
    assert phone.locator("caption", has_text="Titik periksa log intake").count() == 1
    assert phone.get_by_role("link", name="Unduh JSON").count() >= 2
    assert "kesah audit" in phone.locator("pre.command").inner_text()
    check_page(phone)
    screenshot(phone, "transparansi")
