"""Recorded events for unit tests of pure logic: built as the store would build them."""

from __future__ import annotations

import uuid
from typing import Any

from kesah import signing
from kesah.contracts import RecordedEvent

SIGNERS = {s: signing.Signer.generate(s) for s in ("intake", "routing", "responses")}
CID = "7d0c1a3e-0000-4000-8000-000000000001"


def recorded(
    source: str,
    type_: str,
    payload: dict[str, Any],
    *,
    position: int,
    occurred_at: str,
    causation_id: str | None = None,
    prev_hash: str = signing.GENESIS_HASH,
    event_id: str | None = None,
    version: int = 1,
) -> RecordedEvent:
    signer = SIGNERS[source]
    draft = RecordedEvent(
        position=position, event_id=event_id or str(uuid.uuid4()), source=source, type=type_, version=version,
        stream_id=payload.get("complaint_id", CID), stream_version=1, occurred_at=occurred_at,
        causation_id=causation_id, correlation_id=payload.get("complaint_id", CID), payload=payload,
        prev_hash=prev_hash, hash="", key_id=signer.key_id, signature="",
    )
    digest = draft.computed_hash()
    return RecordedEvent(**{**draft.to_message(), "hash": digest, "signature": signer.sign(digest)})


def keyring() -> signing.Keyring:
    ring = signing.Keyring()
    for service, signer in SIGNERS.items():
        ring.add(service, signer.public_base64())
    return ring


def complaint_events(visibility: str = "public", skew: bool = False) -> list[RecordedEvent]:
    """Submitted, routed, answered; with ``skew`` the routing clock runs 5 minutes behind."""
    submitted = recorded("intake", "ComplaintSubmitted", {
        "complaint_id": CID, "tracking_code": "ACDE-FHJK", "kind": "keluhan", "title": "Jalan berlubang",
        "body": "Jalan berlubang di depan sekolah.", "kelurahan": "Api-Api", "kecamatan": "Bontang Utara",
        "address": "Jl. Mawar", "visibility": visibility, "channel": "web",
    }, position=1, occurred_at="2026-11-25T01:00:00.000000Z")
    routed = recorded("routing", "ComplaintRouted", {
        "complaint_id": CID, "tracking_code": "ACDE-FHJK", "agency_id": "pupr",
        "agency_name": "Dinas Pekerjaan Umum dan Penataan Ruang", "due_date": "2026-12-02",
        "matched_keywords": ["jalan", "berlubang"], "reason": "Kata kunci: jalan, berlubang.",
    }, position=1, occurred_at="2026-11-25T00:55:00.000000Z" if skew else "2026-11-25T01:00:01.000000Z",
        causation_id=submitted.event_id)
    answered = recorded("responses", "ResponsePosted", {
        "complaint_id": CID, "tracking_code": "ACDE-FHJK", "response_id": "7d0c1a3e-0000-4000-8000-0000000000aa",
        "agency_id": "pupr", "agency_name": "Dinas Pekerjaan Umum dan Penataan Ruang",
        "body": "Sudah ditambal.", "status": "dijawab",
    }, position=1, occurred_at="2026-11-25T00:56:00.000000Z" if skew else "2026-11-26T02:00:00.000000Z",
        causation_id=routed.event_id)
    return [submitted, routed, answered]
