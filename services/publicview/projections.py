"""The public view of one complaint, folded from its events. Pure.

Live handling and replay run this same function over the same set of
events, so they cannot disagree. The result does not depend on the order
events arrived in: they are put in causal order first (a cause before its
effects, then by time, source and position), which is what makes a rebuild
from any genuine copy of the log give the same projection, byte for byte.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable

from kesah.contracts import RecordedEvent

STATUS_LABELS = {
    "diterima": "Diterima",
    "diteruskan": "Diteruskan",
    "diproses": "Diproses",
    "dijawab": "Dijawab",
    "selesai": "Selesai",
    "ditolak": "Ditolak",
    "dialihkan": "Dialihkan",
}

CHANNEL_LABELS = {
    "web": "situs Kesah Etam",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "x": "X (Twitter)",
    "email": "email",
    "sms": "SMS",
}

KIND_LABELS = {
    "informasi": "Informasi",
    "keluhan": "Keluhan",
    "pertanyaan": "Pertanyaan",
    "kritik": "Kritik",
    "saran": "Saran",
}


def _key(event: RecordedEvent) -> tuple[str, str, int]:
    return (event.occurred_at, event.source, event.position)


def causal_order(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """Causes before effects; otherwise by (occurred_at, source, position).

    Clocks of different services may disagree; causation ids do not.
    """
    unique = {e.event_id: e for e in events}
    waiting: dict[str, list[RecordedEvent]] = {}
    ready: list[tuple[tuple[str, str, int], str]] = []
    for event in unique.values():
        if event.causation_id in unique and event.causation_id != event.event_id:
            waiting.setdefault(event.causation_id, []).append(event)
        else:
            heapq.heappush(ready, (_key(event), event.event_id))
    ordered: list[RecordedEvent] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(unique[event_id])
        for effect in waiting.pop(event_id, ()):
            heapq.heappush(ready, (_key(effect), effect.event_id))
    return ordered


def _submitted(doc: dict[str, Any], event: RecordedEvent) -> None:
    _, p = event.upcast_payload()  # every version, read as the latest
    doc.update(
        complaint_id=p["complaint_id"],
        tracking_code=p["tracking_code"],
        kind=p["kind"],
        title=p["title"],
        body=p["body"],
        kelurahan=p["kelurahan"],
        kecamatan=p["kecamatan"],
        address=p["address"],
        visibility=p["visibility"],
        channel=p["channel"],
        submitted_at=event.occurred_at,
        status="diterima",
    )
    doc["timeline"].append({"at": event.occurred_at, "status": "diterima", "text": "Aduan diterima."})


def _routed(doc: dict[str, Any], event: RecordedEvent) -> None:
    p = event.payload
    doc["agency"] = {"id": p["agency_id"], "name": p["agency_name"]}
    doc["due_date"] = p["due_date"]
    doc["status"] = "diteruskan"
    doc["timeline"].append(
        {"at": event.occurred_at, "status": "diteruskan", "text": f"Diteruskan ke {p['agency_name']}."}
    )


def _answered(doc: dict[str, Any], event: RecordedEvent) -> None:
    p = event.payload
    doc["responses"].append(
        {
            "response_id": p["response_id"],
            "agency": {"id": p["agency_id"], "name": p["agency_name"]},
            "body": p["body"],
            "status": p["status"],
            "posted_at": event.occurred_at,
        }
    )
    doc["status"] = p["status"]
    verb = "menjawab" if p["status"] == "dijawab" else "menanggapi (sedang diproses)"
    doc["timeline"].append({"at": event.occurred_at, "status": p["status"], "text": f"{p['agency_name']} {verb}."})


APPLY = {
    "ComplaintSubmitted": _submitted,
    "ComplaintRouted": _routed,
    "ResponsePosted": _answered,
}


def complaint_view(events: Iterable[RecordedEvent]) -> dict[str, Any] | None:
    """The public document of one complaint; None until its submission is known."""
    ordered = causal_order(events)
    if not any(e.type == "ComplaintSubmitted" for e in ordered):
        return None
    doc: dict[str, Any] = {"agency": None, "due_date": None, "responses": [], "timeline": []}
    for event in ordered:
        apply = APPLY.get(event.type)
        if apply is not None:
            apply(doc, event)
    doc["updated_at"] = doc["timeline"][-1]["at"]
    if doc["visibility"] == "confidential":
        return redact(doc)
    return doc


def redact(doc: dict[str, Any]) -> dict[str, Any]:
    """A confidential complaint is routed and answered, but the public sees only that it exists."""
    return {
        "complaint_id": doc["complaint_id"],
        "tracking_code": doc["tracking_code"],
        "visibility": "confidential",
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["submitted_at"],
        "status": None,
        "kind": None,
        "kelurahan": None,
        "agency": None,
    }
