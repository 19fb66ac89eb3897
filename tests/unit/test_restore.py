"""The pure parts of ``kesah restore``: sorting a copy's events, and the owners' tables folded from them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kesah import signing
from kesah.cli import CliError
from kesah.restore import collect, consumes
from services.intake.restore import followup_state
from services.routing.restore import rule_table

from .events import complaint_events, keyring, recorded


def chain(count: int) -> list:
    """``count`` intake events, chained as the store chains them."""
    events, prev = [], signing.GENESIS_HASH
    for position, submitted in enumerate([complaint_events()[0]] * count, start=1):
        event = recorded("intake", "ComplaintSubmitted", {**submitted.payload, "tracking_code": f"ACDE-FHJ{position}"},
                         position=position, occurred_at=submitted.occurred_at, prev_hash=prev)
        events.append(event)
        prev = event.hash
    return events


def test_the_owners_genuine_events_in_position_order_once_each_forged_ones_counted() -> None:
    own = chain(4)
    forged = dataclasses.replace(own[1], payload={**own[1].payload, "title": "Palsu"})
    routed, answered = complaint_events()[1:]
    copy = collect("intake", [own[0], forged, own[2], own[1], routed, own[1], own[3], answered], keyring())
    assert [e.position for e in copy.own] == [1, 2, 3, 4] and copy.own[1] == own[1]
    assert copy.rejected == 1 and "position 2" in (copy.first_rejected or "")
    assert copy.consumed == [answered]  # intake consumes ResponsePosted, not ComplaintRouted
    assert copy.gap is None and copy.head.position == 4


def test_a_hole_in_the_copy_stops_the_log_before_it() -> None:
    own = chain(4)
    copy = collect("intake", [own[0], own[1], own[3]], keyring())
    assert [e.position for e in copy.own] == [1, 2] and copy.gap == 3


def test_two_signed_events_at_one_position_are_refused() -> None:
    own, other = chain(2), chain(2)
    with pytest.raises(CliError, match="two different signed events at position 1"):
        collect("intake", own + other, keyring())


def test_who_consumes_what() -> None:
    submitted, routed, answered = complaint_events()
    assert consumes("routing", submitted) and consumes("responses", routed) and consumes("intake", answered)
    assert not consumes("intake", routed) and not consumes("routing", routed)


def test_the_reporters_follow_up_state_as_intake_keeps_it_live() -> None:
    submitted, routed, answered = complaint_events()
    assert followup_state([submitted, routed, answered])["answer_event_id"] == answered.event_id
    closed = recorded("intake", "ComplaintClosed", {}, position=2, occurred_at="2026-11-27T00:00:00.000000Z")
    assert followup_state([answered, closed]) == {"answer_event_id": None, "closed": True, "reopened": False,
                                                  "rejected": False}


def test_the_rules_table_is_the_rule_events_in_order() -> None:
    def rule(type_: str, rule_id: str, **extra: object) -> object:
        payload = {"rule_id": rule_id} if type_ == "RoutingRuleRemoved" else {
            "rule_id": rule_id, "agency_id": "pupr", "agency_name": "Dinas PUPR", "keywords": ["jalan"],
            "kinds": [], "kelurahan": [], **extra}
        return dataclasses.replace(complaint_events()[1], type=type_, payload=payload)

    table = rule_table([rule("RoutingRuleAdded", "a"), rule("RoutingRuleAdded", "b"),
                        rule("RoutingRuleChanged", "a", keywords=["lubang"]), rule("RoutingRuleRemoved", "b"),
                        rule("RoutingRuleAdded", "c")])
    assert [(r["rule_id"], r["seq"], json.loads(r["keywords"])) for r in table] == [("a", 1, ["lubang"]),
                                                                                     ("c", 3, ["jalan"])]
