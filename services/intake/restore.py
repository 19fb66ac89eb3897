"""Intake's own tables after ``kesah restore intake``: what follows from the restored log.

What the log tells is rebuilt: a row per complaint (its tracking code stays
taken, ``kesah erase`` finds it), what the reporter may still do
(``followups``, folded from answers, rejections, confirmations and reopens),
and the tracking rows of the consumed events that fold covers (so a
redelivery changes nothing). What never enters an event cannot come back
from a copy of the log: the reporter's secret (a restored complaint's
secret matches nothing, so its reporter can no longer confirm or reopen),
the sealed contact data, photo bytes, Open311 keys and posts waiting for an
operator. Those are in a backup of intake's database, if there is one:
restore that backup first, then ``kesah restore`` adds what came after it.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from kesah.contracts import RecordedEvent
from kesah.eventstore import EventStore
from kesah.restore import causal_groups, mark_handled

from .store import CONSUMER, complaints, followups

# No secret hashes to this (a hash is 64 hex digits): the reporter's secret was not in the log.
SECRET_LOST = "lost-in-restore"

FOLLOWUP_TYPES = ("ResponsePosted", "ComplaintRejected", "ComplaintClosed", "ComplaintReopened")


def followup_state(events: Iterable[RecordedEvent]) -> dict[str, Any]:
    """What the reporter may do, from a complaint's events in causal order (as ``Intake`` keeps it live)."""
    state: dict[str, Any] = {"answer_event_id": None, "closed": False, "reopened": False, "rejected": False}
    for event in events:
        if event.type == "ResponsePosted" and event.payload.get("status") == "dijawab":
            state["answer_event_id"] = event.event_id
        elif event.type == "ComplaintRejected":
            state["rejected"] = True
        elif event.type == "ComplaintClosed":
            state.update(closed=True, answer_event_id=None)
        elif event.type == "ComplaintReopened":
            state.update(reopened=True, closed=False, answer_event_id=None)
    return state


def rebuild(store: EventStore, consumed: list[RecordedEvent]) -> str:
    own = [e for e in store.read() if e.type in ("ComplaintSubmitted", *FOLLOWUP_TYPES)]
    with store.write() as conn:
        known = set(conn.execute(sa.select(complaints.c.complaint_id)).scalars())
        rows = [{"complaint_id": e.payload["complaint_id"], "tracking_code": e.payload["tracking_code"],
                 "secret_hash": SECRET_LOST, "submitted_at": e.occurred_at}
                for e in own if e.type == "ComplaintSubmitted" and e.payload["complaint_id"] not in known]
        if rows:
            conn.execute(complaints.insert(), rows)
        known |= {r["complaint_id"] for r in rows}

        groups = causal_groups([e for e in own + consumed if e.type in FOLLOWUP_TYPES])
        states = {cid: followup_state(events) for cid, events in groups.items() if cid in known}
        if states:
            conn.execute(followups.delete().where(followups.c.complaint_id.in_(list(states))))
            conn.execute(followups.insert(), [{"complaint_id": cid, **state} for cid, state in states.items()])

        tracked = mark_handled(conn, CONSUMER, consumed)
    return (f"intake's tables: {len(rows)} complaint row(s) added (their reporters' secrets and contact data are "
            f"not in the log), {len(states)} follow-up state(s), {tracked} consumed event(s) marked handled")
