"""The complaint's lifecycle as the public and the agencies see it."""

from __future__ import annotations

import itertools

from kesah import lifecycle, signing
from services.publicview import projections

from .events import CID, complaint_events, recorded

CODE = "ACDE-FHJK"
PUPR = ("pupr", "Dinas Pekerjaan Umum dan Penataan Ruang")
DLH = ("dlh", "Dinas Lingkungan Hidup")


def later(source: str, type_: str, payload: dict, cause, at: str):  # type: ignore[no-untyped-def]
    return recorded(source, type_, {"complaint_id": CID, "tracking_code": CODE, **payload},
                    position=9, occurred_at=at, causation_id=cause.event_id)


def rerouted_story():  # type: ignore[no-untyped-def]
    submitted, routed, _ = complaint_events()
    asked = later("responses", "RerouteRequested", {
        "agency_id": PUPR[0], "agency_name": PUPR[1], "reason": "Ini soal sampah, bukan jalan.",
        "suggested_agency_id": "dlh"}, routed, "2026-11-25T03:00:00.000000Z")
    moved = later("routing", "ComplaintRerouted", {
        "from_agency_id": PUPR[0], "from_agency_name": PUPR[1], "agency_id": DLH[0], "agency_name": DLH[1],
        "due_date": "2026-12-03", "reason": "Permintaan instansi: sampah.", "decided_by": "operator"},
        asked, "2026-11-25T04:00:00.000000Z")
    return [submitted, routed, asked, moved]


def test_rerouting_moves_the_complaint_and_says_why() -> None:
    doc = projections.complaint_view(rerouted_story())
    assert doc["status"] == "dialihkan"
    assert doc["agency"] == {"id": "dlh", "name": "Dinas Lingkungan Hidup"} and doc["due_date"] == "2026-12-03"
    assert [t["status"] for t in doc["timeline"]] == ["diterima", "diteruskan", "diteruskan", "dialihkan"]
    assert "Alasan: Permintaan instansi: sampah." in doc["timeline"][-1]["text"]
    # The agency's own reason is for the operator; the public sees that it asked.
    assert "bukan jalan" not in str(doc) and "reroute_request" not in doc
    internal = lifecycle.fold(rerouted_story(), internal=True)
    assert "Ini soal sampah, bukan jalan." in internal["timeline"][2]["text"]
    assert internal["reroute_request"] is None and internal["previous_agencies"] == ["pupr"]


def test_a_pending_reroute_request_is_in_the_case_file() -> None:
    internal = lifecycle.fold(rerouted_story()[:3], internal=True)
    assert internal["reroute_request"]["suggested_agency_id"] == "dlh"
    assert internal["status"] == "diteruskan" and internal["agency"]["id"] == "pupr"


def test_overdue_is_flagged_until_answered_and_a_stale_check_is_ignored() -> None:
    submitted, routed, answered = complaint_events()
    late = later("routing", "ComplaintOverdue", {"agency_id": PUPR[0], "agency_name": PUPR[1],
                                                 "due_date": "2026-12-02"}, routed, "2026-12-03T00:00:00.000000Z")
    doc = projections.complaint_view([submitted, routed, late])
    assert doc["overdue"] is True and doc["status"] == "diteruskan"
    assert "terlewati" in doc["timeline"][-1]["text"]
    assert projections.complaint_view([submitted, routed, late, answered])["overdue"] is False
    # An overdue check for the first agency, after the complaint moved, changes nothing.
    story = rerouted_story()
    stale = later("routing", "ComplaintOverdue", {"agency_id": PUPR[0], "agency_name": PUPR[1],
                                                  "due_date": "2026-12-02"}, story[1], "2026-12-03T00:00:00.000000Z")
    assert projections.complaint_view(story + [stale])["overdue"] is False


def test_the_reporter_closes_or_reopens_and_a_new_due_date_follows() -> None:
    submitted, routed, answered = complaint_events()
    closed = later("intake", "ComplaintClosed", {"comment": "Terima kasih."}, answered, "2026-11-27T00:00:00.000000Z")
    doc = projections.complaint_view([submitted, routed, answered, closed])
    assert doc["status"] == "selesai" and doc["timeline"][-1]["text"].endswith("Komentar: Terima kasih.")
    reopened = later("intake", "ComplaintReopened", {"comment": "Lubangnya muncul lagi."}, answered,
                     "2026-11-27T00:00:00.000000Z")
    due = later("routing", "DueDateSet", {"agency_id": "pupr", "due_date": "2026-12-04",
                                          "reason": "Aduan dibuka kembali oleh pelapor."}, reopened,
                "2026-11-27T00:00:01.000000Z")
    doc = projections.complaint_view([submitted, routed, answered, reopened, due])
    assert doc["status"] == "diproses" and doc["reopened"] is True and doc["due_date"] == "2026-12-04"


def test_a_rejected_complaint_shows_the_reason_but_not_the_content() -> None:
    submitted, _, _ = complaint_events()
    rejected = later("routing", "ComplaintRejected", {"reason": "Iklan, bukan aduan."}, submitted,
                     "2026-11-25T02:00:00.000000Z")
    doc = projections.complaint_view([submitted, rejected])
    assert doc["status"] == "ditolak" and doc["rejection_reason"] == "Iklan, bukan aduan."
    assert "Jalan berlubang" not in str(doc) and "Jl. Mawar" not in str(doc)
    assert lifecycle.fold([submitted, rejected], internal=True)["title"] == "Jalan berlubang"


def test_awaiting_routing_keeps_the_status_and_tells_the_public() -> None:
    submitted, _, _ = complaint_events()
    waiting = later("routing", "ComplaintAwaitingRouting", {"reason": "Tidak ada kata kunci yang cocok."},
                    submitted, "2026-11-25T01:00:01.000000Z")
    doc = projections.complaint_view([submitted, waiting])
    assert doc["status"] == "diterima" and doc["awaiting_routing"] is True and doc["agency"] is None


def test_every_lifecycle_in_any_arrival_order_gives_one_document() -> None:
    story = rerouted_story()
    dumps = {signing.canonical(projections.complaint_view(list(p))) for p in itertools.permutations(story)}
    assert len(dumps) == 1
