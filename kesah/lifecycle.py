"""A complaint's life, folded from its events: status, agency, due date, timeline. Pure.

This is the meaning of the complaint events, shared by every reader of them:
publicview folds them into the public document, responses into the agency's
case file (``internal=True`` adds what only the agency and operators see).
One fold means the public page and the agency portal cannot disagree about a
complaint's status.

The result does not depend on the order events arrived in: they are put in
causal order first (a cause before its effects, then by time, source and
position), so a rebuild from any genuine copy of the log gives the same
document, byte for byte.

Statuses: diterima (submitted) → diteruskan (routed) → diproses (in
progress) → dijawab (answered) → selesai (closed by the reporter); ditolak
(rejected as spam or abuse) and dialihkan (re-routed) where they apply.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Iterable

from .contracts import RecordedEvent

STATUS_LABELS = {
    "diterima": "Diterima",
    "diteruskan": "Diteruskan",
    "diproses": "Diproses",
    "dijawab": "Dijawab",
    "selesai": "Selesai",
    "ditolak": "Ditolak",
    "dialihkan": "Dialihkan",
}

# The agency still owes an answer in these statuses; the due date runs.
AWAITING_ANSWER = ("diteruskan", "dialihkan", "diproses")
FINAL = ("selesai", "ditolak")

KIND_LABELS = {
    "informasi": "Informasi",
    "keluhan": "Keluhan",
    "pertanyaan": "Pertanyaan",
    "kritik": "Kritik",
    "saran": "Saran",
}

# Where a complaint came from, as the pages say it ("Melalui ...").
CHANNEL_LABELS = {
    "web": "situs Kesah Etam",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "x": "X (Twitter)",
    "email": "email",
    "sms": "SMS",
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


class _Fold:
    """Applies one complaint's events to its document, in causal order."""

    def __init__(self, internal: bool) -> None:
        self.internal = internal
        self.doc: dict[str, Any] = {
            "agency": None,
            "due_date": None,
            "responses": [],
            "timeline": [],
            "overdue": False,
            "awaiting_routing": False,
            "reopened": False,
            "rejection_reason": None,
            "photo": None,
        }
        if internal:
            self.doc.update(reroute_request=None, last_event_id=None, previous_agencies=[])

    def step(self, event: RecordedEvent, text: str, status: str | None = None, internal_text: str | None = None) -> None:
        if status is not None:
            self.doc["status"] = status
        entry = {"at": event.occurred_at, "status": self.doc["status"], "text": text}
        if self.internal and internal_text:
            entry["text"] = internal_text
        self.doc["timeline"].append(entry)

    def apply(self, event: RecordedEvent) -> None:
        handler: Callable[[RecordedEvent, dict[str, Any]], None] | None = getattr(self, "on_" + event.type, None)
        if handler is None or (event.type != "ComplaintSubmitted" and "status" not in self.doc):
            return
        handler(event, event.upcast_payload()[1])  # every version, read as the latest
        if self.internal:
            self.doc["last_event_id"] = event.event_id

    # --- intake ---------------------------------------------------------------

    def on_ComplaintSubmitted(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc.update(
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
        )
        self.step(event, "Aduan diterima.", "diterima")

    def on_PhotoAttached(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        # Part of the submission, not a step of its life: no timeline entry. The
        # bytes stay in intake, which serves them (never a confidential complaint's).
        self.doc["photo"] = {
            "url": f"/api/intake/photos/{p['photo_id']}",
            "content_type": p["content_type"],
            "width": p["width"],
            "height": p["height"],
            "sha256": p["sha256"],
        }

    def on_ComplaintClosed(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc["overdue"] = False
        comment = p["comment"].strip()
        self.step(event, "Pelapor menyatakan aduan selesai." + (f" Komentar: {comment}" if comment else ""), "selesai")

    def on_ComplaintReopened(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc["reopened"] = True
        self.step(event, f"Pelapor membuka kembali aduan: {p['comment'].strip()}", "diproses")

    # --- routing --------------------------------------------------------------

    def on_ComplaintRouted(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc.update(agency={"id": p["agency_id"], "name": p["agency_name"]}, due_date=p["due_date"],
                        overdue=False, awaiting_routing=False)
        self.step(event, f"Diteruskan ke {p['agency_name']}.", "diteruskan",
                  internal_text=f"Diteruskan ke {p['agency_name']}. {p['reason']}")

    def on_ComplaintAwaitingRouting(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc["awaiting_routing"] = True
        self.step(event, "Sedang dipilah operator untuk diteruskan ke instansi terkait.",
                  internal_text=f"Menunggu dipilah operator: {p['reason']}")

    def on_ComplaintRerouted(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc.update(agency={"id": p["agency_id"], "name": p["agency_name"]}, due_date=p["due_date"],
                        overdue=False, awaiting_routing=False)
        if self.internal:
            self.doc["reroute_request"] = None
            self.doc["previous_agencies"].append(p["from_agency_id"])
        self.step(event, f"Dialihkan dari {p['from_agency_name']} ke {p['agency_name']}. Alasan: {p['reason']}",
                  "dialihkan")

    def on_ComplaintRejected(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc.update(rejection_reason=p["reason"], overdue=False, awaiting_routing=False)
        self.step(event, f"Ditolak: {p['reason']}", "ditolak")

    def on_ComplaintOverdue(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        # A late check about an assignment that has since changed says nothing now.
        agency = self.doc["agency"] or {}
        if p["due_date"] != self.doc["due_date"] or p["agency_id"] != agency.get("id"):
            return
        if self.doc["status"] not in AWAITING_ANSWER:
            return
        self.doc["overdue"] = True
        self.step(event, f"Batas waktu jawaban terlewati; {p['agency_name']} belum menjawab.")

    def on_DueDateSet(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc.update(due_date=p["due_date"], overdue=False)
        self.step(event, f"Batas waktu jawaban baru ditetapkan. {p['reason']}")

    # --- responses ------------------------------------------------------------

    def on_ResponsePosted(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        self.doc["responses"].append(
            {
                "response_id": p["response_id"],
                "agency": {"id": p["agency_id"], "name": p["agency_name"]},
                "body": p["body"],
                "status": p["status"],
                "posted_at": event.occurred_at,
            }
        )
        if p["status"] == "dijawab":
            self.doc["overdue"] = False
        verb = "menjawab" if p["status"] == "dijawab" else "menanggapi (sedang diproses)"
        self.step(event, f"{p['agency_name']} {verb}.", p["status"])

    def on_RerouteRequested(self, event: RecordedEvent, p: dict[str, Any]) -> None:
        if self.internal:
            self.doc["reroute_request"] = {
                "agency_id": p["agency_id"], "agency_name": p["agency_name"], "reason": p["reason"],
                "suggested_agency_id": p["suggested_agency_id"], "requested_at": event.occurred_at,
            }
        self.step(event, f"{p['agency_name']} meminta aduan dialihkan ke instansi lain.",
                  internal_text=f"{p['agency_name']} meminta aduan dialihkan: {p['reason']}")


def fold(events: Iterable[RecordedEvent], *, internal: bool = False) -> dict[str, Any] | None:
    """The document of one complaint; None until its submission is known."""
    ordered = causal_order(events)
    if not any(e.type == "ComplaintSubmitted" for e in ordered):
        return None
    state = _Fold(internal)
    for event in ordered:
        state.apply(event)
    doc = state.doc
    doc["updated_at"] = doc["timeline"][-1]["at"]
    if doc["status"] == "ditolak" and not internal:
        # Spam and abuse are not republished; the rejection and its reason are.
        doc.update(title="Aduan ditolak", body="", address="")
    return doc
