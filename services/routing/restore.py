"""Routing's own tables after ``kesah restore routing``: rules and cases follow from the restored log.

The ``rules`` table is the rule events replayed in position order; each
case is ``domain.apply`` folded over the complaint's events (routing's own
and those it consumes, from the same copy), in causal order; the consumed
events folded in get their tracking rows, so a redelivery changes nothing.
Nothing is decided here (no ``react``): a decision routing owed but had not
yet relayed when its database was lost is not in any copy, and such a
complaint waits as ``received`` until an operator routes it.
"""

from __future__ import annotations

import json

from kesah.contracts import RecordedEvent
from kesah.eventstore import EventStore
from kesah.restore import causal_groups, mark_handled

from . import domain, rules
from .store import CONSUMER, _case_to_row, cases, rule_rows

RULE_TYPES = ("RoutingRuleAdded", "RoutingRuleChanged", "RoutingRuleRemoved")


def rule_table(events: list[RecordedEvent]) -> list[dict[str, object]]:
    """The rules table as the rule events, in position order, leave it."""
    table: dict[str, dict[str, object]] = {}
    seq = 0
    for event in events:
        rule_id = event.payload["rule_id"]
        if event.type == "RoutingRuleRemoved":
            table.pop(rule_id, None)
            continue
        rule = rules.Rule.from_payload(event.payload)
        values = {**rule.payload(), "keywords": json.dumps(list(rule.keywords)),
                  "kinds": json.dumps(list(rule.kinds)), "kelurahan": json.dumps(list(rule.kelurahan))}
        if event.type == "RoutingRuleChanged" and rule_id in table:
            table[rule_id].update(values)
        else:
            seq += 1
            table[rule_id] = {"seq": seq, **values}
    return list(table.values())


def rebuild(store: EventStore, consumed: list[RecordedEvent]) -> str:
    own = list(store.read())
    with store.write() as conn:
        table = rule_table([e for e in own if e.type in RULE_TYPES])
        conn.execute(rule_rows.delete())
        if table:
            conn.execute(rule_rows.insert(), table)

        folded = []
        for events in causal_groups([e for e in own + consumed if e.type not in RULE_TYPES]).values():
            case = None
            for event in events:
                case = domain.apply(case, event)
            if case is not None:
                folded.append(_case_to_row(case))
        if folded:
            conn.execute(cases.delete().where(cases.c.complaint_id.in_([row["complaint_id"] for row in folded])))
            conn.execute(cases.insert(), folded)

        tracked = mark_handled(conn, CONSUMER, consumed)
    return (f"routing's tables: {len(table)} rule(s), {len(folded)} case(s) folded, "
            f"{tracked} consumed event(s) marked handled")
