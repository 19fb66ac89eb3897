"""Routing's decisions as pure functions of a case: routes, re-routes, due dates, overdue."""

from __future__ import annotations

import datetime as dt

import pytest

from kesah import reference
from services.routing import domain, rules

from .events import CID, complaint_events, recorded

RULES = rules.seed_rules(reference.load())
# 2026-12-25 is Christmas: a holiday in Bontang as everywhere in Indonesia.
POLICY = domain.DuePolicy({"keluhan": 5, "pertanyaan": 3}, holidays=frozenset({dt.date(2026, 12, 25)}))
FRIDAY_NOON_WITA = "2026-12-18T04:00:00.000000Z"


def submitted_case(title: str = "Jalan berlubang", body: str = "Aspal jalan rusak dan berlubang.",
                   at: str = "2026-11-25T01:00:00.000000Z"):  # type: ignore[no-untyped-def]
    event = recorded("intake", "ComplaintSubmitted", {
        "complaint_id": CID, "tracking_code": "ACDE-FHJK", "kind": "keluhan", "title": title, "body": body,
        "kelurahan": "Api-Api", "kecamatan": "Bontang Utara", "address": "", "visibility": "public",
        "channel": "web"}, position=1, occurred_at=at)
    return domain.apply(None, event), event


def assigned(case: domain.Case, agency: str = "pupr", due: str = "2026-12-02") -> domain.Case:
    return domain.Case(**{**case.__dict__, "state": "assigned", "agency_id": agency,
                          "agency_name": reference.load().agency(agency).name, "due_date": due})


def test_a_submission_is_routed_by_the_rules_with_a_due_date_in_working_days() -> None:
    case, event = submitted_case(at=FRIDAY_NOON_WITA)
    (routed,) = domain.react(case, event, RULES, POLICY)
    assert routed.type == "ComplaintRouted" and routed.payload["agency_id"] == "pupr"
    # Friday 18 Dec + 5 working days: Mon 21, Tue 22, Wed 23, Thu 24, (Fri 25 Christmas, weekend) Mon 28.
    assert routed.payload["due_date"] == "2026-12-28"
    assert routed.causation_id == event.event_id and routed.correlation_id == CID


def test_an_unmatched_submission_waits_for_the_operator() -> None:
    case, event = submitted_case("Terima kasih", "Pelayanan bagus sekali.")
    (waiting,) = domain.react(case, event, RULES, POLICY)
    assert waiting.type == "ComplaintAwaitingRouting"
    case = domain.apply(case, _recorded(waiting))
    assert case.state == "awaiting"
    routed = domain.route_manually(case, "dinsos", "Dinas Sosial", "Soal lansia.", "ops", POLICY,
                                   now=FRIDAY_NOON_WITA)
    assert routed.payload["due_date"] == "2026-12-28" and "operator ops" in routed.payload["reason"]


def _recorded(new):  # type: ignore[no-untyped-def]
    source = "routing"
    return recorded(source, new.type, new.payload, position=2, occurred_at=new.occurred_at,
                    causation_id=new.causation_id)


def test_rerouting_moves_the_case_and_counts_a_new_due_date_over_weekend_and_holiday() -> None:
    case = assigned(submitted_case()[0])
    moved = domain.reroute(case, "dlh", "Dinas Lingkungan Hidup", "Soal sampah.", "operator", POLICY,
                           now="2026-12-23T02:00:00.000000Z")  # Wednesday
    # Wed 23 + 5: Thu 24, (Fri 25 holiday, Sat, Sun) Mon 28, Tue 29, Wed 30, Thu 31.
    assert moved.payload["due_date"] == "2026-12-31"
    assert moved.payload["from_agency_id"] == "pupr" and moved.payload["agency_id"] == "dlh"
    after = domain.apply(case, _recorded(moved))
    assert after.agency_id == "dlh" and after.declined == ("pupr",) and not after.answered
    with pytest.raises(domain.Refused):
        domain.reroute(after, "dlh", "Dinas Lingkungan Hidup", "Lagi.", "operator", POLICY)


def test_a_reroute_request_finds_the_next_rule_or_leaves_it_to_the_operator() -> None:
    case = assigned(submitted_case("Sampah di jalan", "Sampah menumpuk di pinggir jalan.")[0])
    request = recorded("responses", "RerouteRequested", {
        "complaint_id": CID, "tracking_code": "ACDE-FHJK", "agency_id": "pupr",
        "agency_name": "Dinas Pekerjaan Umum dan Penataan Ruang", "reason": "Ini soal sampah.",
        "suggested_agency_id": None}, position=1, occurred_at="2026-11-26T01:00:00.000000Z")
    case = domain.apply(case, request)
    assert case.reroute_requested
    (moved,) = domain.react(case, request, RULES, POLICY)
    assert moved.type == "ComplaintRerouted" and moved.payload["agency_id"] == "dlh"
    assert moved.payload["decided_by"] == "rules" and "Ini soal sampah." in moved.payload["reason"]
    # Nothing else fits a text only about roads: the request waits for an operator.
    roads = domain.apply(assigned(submitted_case()[0]), request)
    assert domain.react(roads, request, RULES, POLICY) == []


def test_overdue_only_after_the_due_date_and_only_once() -> None:
    case = assigned(submitted_case()[0], due="2026-12-02")
    assert not domain.is_overdue(case, dt.date(2026, 12, 2))  # the due date itself is still in time
    assert domain.is_overdue(case, dt.date(2026, 12, 3))
    late = domain.overdue(case)
    case = domain.apply(case, _recorded(late))
    assert not domain.is_overdue(case, dt.date(2026, 12, 4))


def test_an_answer_stops_the_clock_but_an_interim_reply_does_not() -> None:
    submitted, routed, answered = complaint_events()
    case = domain.apply(domain.apply(None, submitted), routed)
    interim = recorded("responses", "ResponsePosted", {**answered.payload, "status": "diproses"},
                       position=1, occurred_at=answered.occurred_at)
    assert domain.is_overdue(domain.apply(case, interim), dt.date(2026, 12, 3))
    assert not domain.is_overdue(domain.apply(case, answered), dt.date(2026, 12, 3))


def test_reopening_sets_a_new_due_date_from_the_reopening_day() -> None:
    submitted, routed, answered = complaint_events()
    case = domain.apply(domain.apply(domain.apply(None, submitted), routed), answered)
    reopened = recorded("intake", "ComplaintReopened", {"complaint_id": CID, "tracking_code": "ACDE-FHJK",
                                                        "comment": "Masih berlubang."},
                        position=2, occurred_at="2026-12-24T02:00:00.000000Z")  # Thursday before Christmas
    case = domain.apply(case, reopened)
    (due,) = domain.react(case, reopened, RULES, POLICY)
    # Thu 24 + 5: (Fri 25 holiday, weekend) Mon 28, Tue 29, Wed 30, Thu 31, Fri 1 Jan 2027.
    assert due.type == "DueDateSet" and due.payload["due_date"] == "2027-01-01"
    assert domain.is_overdue(domain.apply(case, _recorded(due)), dt.date(2027, 1, 2)) is True


def test_a_closed_or_rejected_complaint_cannot_be_rejected_again() -> None:
    case = domain.Case(**{**submitted_case()[0].__dict__, "state": "rejected"})
    with pytest.raises(domain.Refused):
        domain.reject(case, "Spam.")
