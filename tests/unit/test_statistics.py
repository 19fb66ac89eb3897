from __future__ import annotations

import datetime as dt
from typing import Any

from services.publicview import statistics

TODAY = dt.date(2026, 12, 10)
PUPR = {"id": "pupr", "name": "Dinas Pekerjaan Umum dan Penataan Ruang"}
DLH = {"id": "dlh", "name": "Dinas Lingkungan Hidup"}


def doc(agency: dict | None, status: str, due: str | None = "2026-12-01", responses: list | None = None,
        visibility: str = "public", **extra: Any) -> dict[str, Any]:
    return {"visibility": visibility, "agency": agency, "status": status, "due_date": due,
            "submitted_at": "2026-11-25T00:00:00.000000Z", "responses": responses or [], **extra}


def answer(at: str, status: str = "dijawab") -> dict[str, Any]:
    return {"posted_at": at, "status": status}


def test_answered_share_median_and_overdue_per_agency() -> None:
    docs = [
        doc(PUPR, "dijawab", responses=[answer("2026-11-26T00:00:00.000000Z")]),  # 1 day
        doc(PUPR, "dijawab", responses=[answer("2026-11-25T12:00:00.000000Z", "diproses"),
                                        answer("2026-11-28T00:00:00.000000Z")]),  # 3 days: diproses is not an answer
        doc(PUPR, "diteruskan"),  # due 1 December, unanswered on the 10th: overdue
        doc(PUPR, "diproses", due="2026-12-20", responses=[answer("2026-11-26T00:00:00.000000Z", "diproses")]),
        doc(DLH, "selesai", responses=[answer("2026-11-25T06:00:00.000000Z")]),
        doc(DLH, "diteruskan", overdue=True, due="2026-12-30"),  # routing said so
        doc(None, "diterima", due=None),
        doc(None, None, visibility="confidential"),
    ]
    summary = statistics.summarize(docs, TODAY)
    assert summary.complaints == 7 and summary.not_routed == 1
    pupr, dlh = summary.agencies
    assert (pupr.agency_id, pupr.complaints, pupr.answered, pupr.overdue) == ("pupr", 4, 2, 1)
    assert pupr.answered_share == 0.5
    assert pupr.median_days_to_answer == 2.0
    assert (dlh.complaints, dlh.answered, dlh.overdue, dlh.median_days_to_answer) == (2, 1, 1, 0.25)


def test_a_closed_or_rejected_complaint_is_never_overdue() -> None:
    assert not statistics.is_overdue(doc(PUPR, "ditolak"), TODAY)
    assert not statistics.is_overdue(doc(PUPR, "selesai"), TODAY)
    assert statistics.is_overdue(doc(PUPR, "dialihkan"), TODAY)
    assert not statistics.is_overdue(doc(PUPR, "dialihkan", due="2026-12-10"), TODAY)


def test_durations_read_as_people_say_them() -> None:
    assert statistics.duration(None) == "—"
    assert statistics.duration(0.01) == "kurang dari 1 jam"
    assert statistics.duration(0.25) == "6 jam"
    assert statistics.duration(2.0) == "2 hari"
    assert statistics.duration(2.54) == "2,5 hari"
    assert statistics.duration(10.0) == "10 hari"
