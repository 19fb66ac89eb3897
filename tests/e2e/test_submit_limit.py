"""One address cannot flood the city's queue: the public API and the form stop it, say when to come back,
and lose nothing that was typed. Real HTTP to the web face; only submissions that were accepted count."""

from __future__ import annotations

from typing import Callable

from tests.support.system import DEFAULT_COMPLAINT, System

FORM = {"kind": "keluhan", "title": "Lampu jalan padam", "body": "Lampu jalan padam sejak Senin malam.",
        "kelurahan": "Kanaan"}


def test_a_flood_from_one_address_is_refused_until_its_window_passes(make_system: Callable[..., System]) -> None:
    system = make_system(extra_env={"KESAH_SUBMIT_LIMIT": "2/600"}).start("web")
    http = system.http
    assert http.post("/api/complaints", json={**DEFAULT_COMPLAINT, "kind": "gosip"}).status_code == 422
    assert [http.post("/api/complaints", json=DEFAULT_COMPLAINT).status_code for _ in range(2)] == [201, 201]

    refused = http.post("/api/complaints", json=DEFAULT_COMPLAINT)
    assert refused.status_code == 429
    assert refused.json()["message"].endswith("silakan kirim lagi dalam 10 menit.")
    assert 590 <= int(refused.headers["retry-after"]) <= 601

    page = http.post("/lapor", data=FORM)
    assert page.status_code == 429 and "Aduan ini belum terkirim" in page.text
    assert 'value="Lampu jalan padam"' in page.text and "Lampu jalan padam sejak Senin malam." in page.text

    # Behind the Ingress (a trusted proxy), each citizen's own address counts.
    behind = http.post("/api/complaints", json=DEFAULT_COMPLAINT, headers={"x-forwarded-for": "203.0.113.7"})
    assert behind.status_code == 201
    assert len(system.events("intake", ["ComplaintSubmitted"])) == 3


def test_a_client_cannot_pick_its_own_address_unless_it_is_a_trusted_proxy(make_system: Callable[..., System]) -> None:
    system = make_system(extra_env={"KESAH_SUBMIT_LIMIT": "1/600", "KESAH_TRUSTED_PROXIES": "10.9.9.9"}).start("web")
    first = system.http.post("/api/complaints", json=DEFAULT_COMPLAINT, headers={"x-forwarded-for": "203.0.113.7"})
    again = system.http.post("/api/complaints", json=DEFAULT_COMPLAINT, headers={"x-forwarded-for": "203.0.113.8"})
    assert (first.status_code, again.status_code) == (201, 429)
