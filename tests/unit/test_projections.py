from __future__ import annotations

import itertools

from kesah import signing
from services.publicview import projections

from .events import complaint_events


def test_the_view_follows_the_complaint_through_its_life() -> None:
    submitted, routed, answered = complaint_events()
    assert projections.complaint_view([submitted])["status"] == "diterima"
    doc = projections.complaint_view([submitted, routed])
    assert doc["status"] == "diteruskan" and doc["agency"]["id"] == "pupr" and doc["due_date"] == "2026-12-02"
    doc = projections.complaint_view([submitted, routed, answered])
    assert doc["status"] == "dijawab"
    assert doc["responses"][0]["body"] == "Sudah ditambal."
    assert [t["status"] for t in doc["timeline"]] == ["diterima", "diteruskan", "dijawab"]
    assert doc["updated_at"] == answered.occurred_at


def test_nothing_is_shown_before_the_submission_is_known() -> None:
    _, routed, answered = complaint_events()
    assert projections.complaint_view([routed, answered]) is None


def test_any_arrival_order_gives_the_same_document_byte_for_byte() -> None:
    events = complaint_events()
    dumps = {signing.canonical(projections.complaint_view(list(p))) for p in itertools.permutations(events)}
    assert len(dumps) == 1


def test_causes_come_before_effects_even_when_clocks_disagree() -> None:
    events = complaint_events(skew=True)
    ordered = projections.causal_order(reversed(events))
    assert [e.type for e in ordered] == ["ComplaintSubmitted", "ComplaintRouted", "ResponsePosted"]
    assert projections.complaint_view(events)["status"] == "dijawab"


def test_a_duplicate_event_changes_nothing() -> None:
    events = complaint_events()
    assert projections.complaint_view(events + events) == projections.complaint_view(events)


def test_a_confidential_complaint_shows_only_that_it_exists() -> None:
    doc = projections.complaint_view(complaint_events("confidential"))
    text = str(doc)
    assert doc["tracking_code"] == "ACDE-FHJK" and doc["visibility"] == "confidential"
    for secret in ("Jalan berlubang", "Jl. Mawar", "Sudah ditambal", "pupr"):
        assert secret not in text
