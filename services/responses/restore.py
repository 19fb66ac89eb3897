"""Responses' own tables after ``kesah restore responses``: the case files follow from the events.

Every complaint event responses keeps (its own answers and re-routing
requests, and what it consumes from intake and routing, from the same copy)
goes into ``case_journal`` once; each touched case file is folded again
(``kesah.lifecycle``, internal); the consumed events get their tracking
rows. Agencies are seeded when responses starts. Tokens, portal accounts
and sessions never enter an event: after losing the database, issue them
again (``kesah agency token``, ``kesah account add``) or restore them from a
backup of responses' database before running ``kesah restore``.
"""

from __future__ import annotations

import sqlalchemy as sa

from kesah import lifecycle
from kesah.contracts import RecordedEvent
from kesah.eventstore import EventStore, event_to_row, row_to_event
from kesah.restore import causal_groups, mark_handled

from .store import CONSUMER, case_row
from .tables import case_journal, cases


def rebuild(store: EventStore, consumed: list[RecordedEvent]) -> str:
    own = [e for e in store.read() if e.type in ("ResponsePosted", "RerouteRequested")]
    with store.write() as conn:
        journaled = set(conn.execute(sa.select(case_journal.c.event_id)).scalars())
        new = [e for e in own + consumed if e.event_id not in journaled]
        new = list({e.event_id: e for e in new}.values())
        if new:
            conn.execute(case_journal.insert(), [event_to_row(e) for e in new])
        touched = list(causal_groups(new))
        folded = 0
        for complaint_id in touched:
            rows = conn.execute(sa.select(case_journal).where(case_journal.c.correlation_id == complaint_id))
            doc = lifecycle.fold([row_to_event(r) for r in rows], internal=True)
            if doc is None:
                continue
            conn.execute(cases.delete().where(cases.c.complaint_id == doc["complaint_id"]))
            conn.execute(cases.insert().values(**case_row(doc)))
            folded += 1

        tracked = mark_handled(conn, CONSUMER, consumed)
    return (f"responses' tables: {len(new)} event(s) into the case journal, {folded} case file(s) folded, "
            f"{tracked} consumed event(s) marked handled (tokens and accounts are not in the log)")
