"""Routing's pure steps: what routing knows of a complaint, and what it decides.

``apply`` folds every event routing sees (its own and those it consumes) into
a ``Case``; ``react`` says what routing does about an event it received; the
operator's decisions (route, re-route, reject) and the deadline check are
functions of a case too. The store only reads, appends and saves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import AbstractSet, Sequence

from kesah.contracts import NewEvent, RecordedEvent, utc_now
from kesah.refusal import Refusal

from . import deadlines, rules

# received: just submitted; awaiting: in the operator's queue; assigned: an
# agency owes an answer or has given one; closed: confirmed by the reporter.
STATES = ("received", "awaiting", "assigned", "closed", "rejected")


@dataclass(frozen=True)
class Case:
    complaint_id: str
    tracking_code: str
    kind: str
    kelurahan: str
    text: str
    state: str = "received"
    agency_id: str | None = None
    agency_name: str | None = None
    due_date: str | None = None
    answered: bool = False
    overdue_raised: bool = False
    reroute_requested: bool = False
    declined: tuple[str, ...] = ()  # agencies that asked to give it away
    last_event_id: str | None = None


@dataclass(frozen=True)
class DuePolicy:
    """Working days to answer, per kind, and the days that do not count."""

    days_by_kind: dict[str, int]
    holidays: AbstractSet[dt.date] = frozenset()
    default_days: int = 5

    def due(self, kind: str, since: str) -> str:
        days = self.days_by_kind.get(kind, self.default_days)
        return deadlines.add_working_days(deadlines.local_date(since), days, self.holidays).isoformat()


class Refused(Refusal):
    """The decision does not fit the complaint's state; the message (Indonesian) says why."""


def apply(case: Case | None, event: RecordedEvent) -> Case | None:
    """The case after one event. Pure; unknown events change nothing."""
    _, p = event.upcast_payload()
    t = event.type
    if t == "ComplaintSubmitted":
        case = case or Case(p["complaint_id"], p["tracking_code"], p["kind"], p["kelurahan"],
                            p["title"] + "\n" + p["body"])
    if case is None:
        return None
    changes: dict[str, object] = {"last_event_id": event.event_id}
    if t == "ComplaintRouted":
        changes.update(state="assigned", agency_id=p["agency_id"], agency_name=p["agency_name"],
                       due_date=p["due_date"], answered=False, overdue_raised=False)
    elif t == "ComplaintAwaitingRouting":
        changes.update(state="awaiting")
    elif t == "ComplaintRerouted":
        changes.update(state="assigned", agency_id=p["agency_id"], agency_name=p["agency_name"],
                       due_date=p["due_date"], answered=False, overdue_raised=False, reroute_requested=False,
                       declined=tuple(dict.fromkeys(case.declined + (p["from_agency_id"],))))
    elif t == "ComplaintRejected":
        changes.update(state="rejected")
    elif t == "ComplaintOverdue":
        changes.update(overdue_raised=True)
    elif t == "DueDateSet":
        changes.update(due_date=p["due_date"], overdue_raised=False)
    elif t == "ResponsePosted":
        if p["status"] == "dijawab" and p["agency_id"] == case.agency_id:
            changes.update(answered=True)
    elif t == "RerouteRequested":
        if p["agency_id"] == case.agency_id:
            changes.update(reroute_requested=True)
    elif t == "ComplaintClosed":
        changes.update(state="closed")
    elif t == "ComplaintReopened":
        changes.update(state="assigned", answered=False)
    return dataclasses.replace(case, **changes)


def react(case: Case, event: RecordedEvent, rule_set: Sequence[rules.Rule], policy: DuePolicy,
          now: str | None = None) -> list[NewEvent]:
    """What routing decides on its own when it receives an event (applied already)."""
    if event.type == "ComplaintSubmitted" and case.state == "received":
        return [route(case, event, rule_set, policy, now)]
    if event.type == "RerouteRequested" and case.state == "assigned" and case.reroute_requested:
        # Another rule may fit once the declining agencies are left out; otherwise an operator decides.
        decision = rules.choose(kind=case.kind, kelurahan=case.kelurahan, texts=[case.text], rules=rule_set,
                                exclude=set(case.declined) | {case.agency_id or ""})
        if decision is None:
            return []
        reason = f"{event.payload['agency_name']} meminta pengalihan: {event.payload['reason']} {decision.reason}"
        return [reroute(case, decision.agency_id, decision.agency_name, reason, "rules", policy, now)]
    if event.type == "ComplaintReopened" and case.state == "assigned" and case.agency_id:
        return [_event("DueDateSet", case, {
            "agency_id": case.agency_id,
            "due_date": policy.due(case.kind, now or event.occurred_at),
            "reason": "Aduan dibuka kembali oleh pelapor.",
        }, now)]
    return []


def _event(type_: str, case: Case, payload: dict[str, object], now: str | None) -> NewEvent:
    return NewEvent(
        type=type_,
        stream_id=case.complaint_id,
        payload={"complaint_id": case.complaint_id, "tracking_code": case.tracking_code, **payload},
        event_id=str(uuid.uuid4()),
        occurred_at=now or utc_now(),
        correlation_id=case.complaint_id,
        causation_id=case.last_event_id,
    )


def route(case: Case, submitted: RecordedEvent, rule_set: Sequence[rules.Rule], policy: DuePolicy,
          now: str | None = None) -> NewEvent:
    """A new complaint goes to the agency of the best rule, or to the operator's queue."""
    decision = rules.choose(kind=case.kind, kelurahan=case.kelurahan, texts=[case.text], rules=rule_set)
    if decision is None:
        return _event("ComplaintAwaitingRouting", case,
                      {"reason": "Tidak ada aturan yang cocok; operator akan meneruskannya."}, now)
    return _event("ComplaintRouted", case, {
        "agency_id": decision.agency_id,
        "agency_name": decision.agency_name,
        "due_date": policy.due(case.kind, submitted.occurred_at),
        "matched_keywords": list(decision.matched_keywords),
        "reason": decision.reason,
    }, now)


def route_manually(case: Case, agency_id: str, agency_name: str, reason: str, operator: str, policy: DuePolicy,
                   now: str | None = None) -> NewEvent:
    """An operator sends a complaint from the queue to an agency."""
    if case.state not in ("awaiting", "received"):
        raise Refused("Aduan ini sudah diteruskan; gunakan pengalihan.")
    now = now or utc_now()
    return _event("ComplaintRouted", case, {
        "agency_id": agency_id,
        "agency_name": agency_name,
        "due_date": policy.due(case.kind, now),
        "matched_keywords": [],
        "reason": f"Diteruskan oleh operator {operator}: {reason}",
    }, now)


def reroute(case: Case, agency_id: str, agency_name: str, reason: str, decided_by: str, policy: DuePolicy,
            now: str | None = None) -> NewEvent:
    """The complaint moves to another agency, with a fresh due date counted from today."""
    if case.state != "assigned" or case.agency_id is None or case.agency_name is None:
        raise Refused("Hanya aduan yang sedang ditangani instansi yang dapat dialihkan.")
    if agency_id == case.agency_id:
        raise Refused("Aduan ini sudah berada di instansi tersebut.")
    now = now or utc_now()
    return _event("ComplaintRerouted", case, {
        "from_agency_id": case.agency_id,
        "from_agency_name": case.agency_name,
        "agency_id": agency_id,
        "agency_name": agency_name,
        "due_date": policy.due(case.kind, now),
        "reason": reason,
        "decided_by": decided_by,
    }, now)


def reject(case: Case, reason: str, now: str | None = None) -> NewEvent:
    if case.state in ("closed", "rejected"):
        raise Refused("Aduan yang sudah selesai atau ditolak tidak dapat ditolak lagi.")
    return _event("ComplaintRejected", case, {"reason": reason}, now)


def is_overdue(case: Case, today: dt.date) -> bool:
    """The due date is the last day to answer: overdue from the next day on, until answered."""
    return (case.state == "assigned" and not case.answered and not case.overdue_raised
            and case.due_date is not None and dt.date.fromisoformat(case.due_date) < today)


def overdue(case: Case, now: str | None = None) -> NewEvent:
    return _event("ComplaintOverdue", case, {
        "agency_id": case.agency_id, "agency_name": case.agency_name, "due_date": case.due_date,
    }, now)


def rule_event(type_: str, payload: dict[str, object], now: str | None = None) -> NewEvent:
    stream = f"rule-{payload['rule_id']}"
    return NewEvent(type=type_, stream_id=stream, payload=payload, event_id=str(uuid.uuid4()),
                    occurred_at=now or utc_now(), correlation_id=stream)
