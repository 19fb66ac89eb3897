"""Routing's pure step: a submitted complaint becomes a routed one."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import AbstractSet, Sequence

from kesah import reference
from kesah.contracts import NewEvent, RecordedEvent, utc_now

from . import deadlines, rules


def route(
    submitted: RecordedEvent,
    rule_set: Sequence[rules.Rule],
    ref: reference.Reference,
    holidays: AbstractSet[dt.date] = frozenset(),
    now: str | None = None,
) -> NewEvent:
    _, p = submitted.upcast_payload()
    triage = ref.agency(ref.triage_agency)
    decision = rules.choose(
        kind=p["kind"],
        kelurahan=p["kelurahan"],
        texts=(p["title"], p["body"]),
        rules=rule_set,
        triage=(triage.id, triage.name),
    )
    days = ref.response_due_working_days.get(p["kind"], 5)
    due = deadlines.add_working_days(deadlines.local_date(submitted.occurred_at), days, holidays)
    return NewEvent(
        type="ComplaintRouted",
        stream_id=p["complaint_id"],
        payload={
            "complaint_id": p["complaint_id"],
            "tracking_code": p["tracking_code"],
            "agency_id": decision.agency_id,
            "agency_name": decision.agency_name,
            "due_date": due.isoformat(),
            "matched_keywords": list(decision.matched_keywords),
            "reason": decision.reason,
        },
        event_id=str(uuid.uuid4()),
        occurred_at=now or utc_now(),
        correlation_id=submitted.correlation_id,
        causation_id=submitted.event_id,
    )
