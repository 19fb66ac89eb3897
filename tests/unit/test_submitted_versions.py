"""ComplaintSubmitted v2 (source id and URL) beside v1: written as v2, every version read as v2."""

from __future__ import annotations

import pytest

from kesah import contracts, reference
from kesah.contracts import ContractError, check_event
from services.intake import domain
from services.publicview.projections import complaint_view
from services.routing import domain as routing, rules

from .events import CID, complaint_events, keyring, recorded

V2_PAYLOAD = {
    **complaint_events()[0].payload,
    "channel": "facebook",
    "source_id": "104_2001",
    "source_url": "https://www.facebook.com/104_2001",
}


def test_new_complaints_are_written_as_the_latest_version() -> None:
    submission = domain.Submission(
        kind="keluhan", title="Jalan rusak", body="Jalan rusak di Loktuan.", kelurahan="Loktuan",
        kecamatan="Bontang Utara", address="", visibility="public", channel="instagram", reporter={},
        source_id="17890001", source_url=None,
    )
    event = domain.complaint_submitted(submission, CID, "ACDE-FHJK")
    assert event.resolved_version() == contracts.LATEST["ComplaintSubmitted"] == 2
    contracts.validate_payload("ComplaintSubmitted", 2, event.payload)
    assert event.payload["source_id"] == "17890001" and event.payload["source_url"] is None


def test_v2_requires_the_source_fields_even_when_null() -> None:
    payload = {k: v for k, v in V2_PAYLOAD.items() if k != "source_id"}
    with pytest.raises(ContractError, match="source_id"):
        contracts.validate_payload("ComplaintSubmitted", 2, payload)


def test_a_v1_event_stays_v1_in_the_log_and_reads_as_v2() -> None:
    v1 = complaint_events()[0]
    assert v1.version == 1 and "source_id" not in v1.payload
    check_event(v1, keyring())  # the hash covers the payload as written
    version, payload = v1.upcast_payload()
    assert version == 2
    assert payload == {**v1.payload, "source_id": None, "source_url": None}
    assert "source_id" not in v1.payload  # upcasting never changes the stored event


def test_routing_and_the_projection_read_both_versions_alike() -> None:
    v1 = complaint_events()[0]
    v2 = recorded("intake", "ComplaintSubmitted", V2_PAYLOAD, position=1, occurred_at=v1.occurred_at, version=2)
    check_event(v2, keyring())
    ref = reference.load()
    policy = routing.DuePolicy(ref.response_due_working_days)
    routed = [routing.route(routing.apply(None, e), e, rules.seed_rules(ref), policy, now="2026-11-25T01:00:01.000000Z")
              for e in (v1, v2)]
    assert [r.payload["agency_id"] for r in routed] == ["pupr", "pupr"]
    docs = [complaint_view([e]) for e in (v1, v2)]
    assert docs[0]["channel"] == "web" and docs[1]["channel"] == "facebook"
    # The page says where a complaint came from, not who posted it or where.
    assert "source_url" not in docs[1] and "source_id" not in docs[1]
