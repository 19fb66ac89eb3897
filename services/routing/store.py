"""Routing's state beside its event log: the rules and what it knows of each complaint.

Both tables are kept by the same transactions that append routing's events
(rules: RoutingRuleAdded/Changed/Removed; cases: every event routing sees),
so they never disagree with the log. The nameko service, its RPC (used by
the operator pages) and the ``kesah rules`` / ``kesah deadlines`` commands
all act through ``Routing``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kesah import config, reference, stores
from kesah.contracts import NewEvent, RecordedEvent, utc_now
from kesah.eventstore import EventStore, events
from kesah.groupcommit import SharedTransaction
from kesah.refusal import Refusal
from kesah.signing import Keyring

from . import deadlines, domain, rules

log = logging.getLogger("kesah.routing")

CONSUMER = "routing"

metadata = sa.MetaData()

rule_rows = sa.Table(
    "rules",
    metadata,
    sa.Column("rule_id", sa.String(60), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),  # ties go to the earlier rule
    sa.Column("agency_id", sa.String(40), nullable=False),
    sa.Column("agency_name", sa.String(200), nullable=False),
    sa.Column("keywords", sa.Text, nullable=False),
    sa.Column("kinds", sa.Text, nullable=False),
    sa.Column("kelurahan", sa.Text, nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("tracking_code", sa.String(9), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("kelurahan", sa.String(100), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("agency_id", sa.String(40)),
    sa.Column("agency_name", sa.String(200)),
    sa.Column("due_date", sa.String(10), index=True),
    sa.Column("answered", sa.Boolean, nullable=False),
    sa.Column("overdue_raised", sa.Boolean, nullable=False),
    sa.Column("reroute_requested", sa.Boolean, nullable=False),
    sa.Column("declined", sa.Text, nullable=False),
    sa.Column("last_event_id", sa.String(36)),
)

RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


class RuleError(Refusal, ValueError):
    """A rule change that cannot be made: the rule as given is not valid."""

    status = 422


def _case_from_row(row: Any) -> domain.Case:
    m = dict(row._mapping)
    m["declined"] = tuple(json.loads(m["declined"]))
    return domain.Case(**m)


def _case_to_row(case: domain.Case) -> dict[str, Any]:
    row = dataclasses.asdict(case)
    row["declined"] = json.dumps(list(case.declined))
    return row


def _rule_from_row(row: Any) -> rules.Rule:
    return rules.Rule(row.rule_id, row.agency_id, row.agency_name, tuple(json.loads(row.keywords)),
                      tuple(json.loads(row.kinds)), tuple(json.loads(row.kelurahan)))


class Routing:
    def __init__(self, store: EventStore, keyring: Keyring, policy: domain.DuePolicy) -> None:
        self.store = store
        self.keyring = keyring
        self.policy = policy
        # Events delivered together are handled in one transaction (one commit).
        self.transactions = SharedTransaction(store.write)

    @classmethod
    def open(cls, settings: config.Settings) -> "Routing":
        ref = reference.load()
        routing = cls(stores.owner_store(settings, "routing"), stores.keyring(settings),
                      domain.DuePolicy(ref.response_due_working_days, settings.holidays))
        routing.seed_rules(rules.seed_rules(ref))
        return routing

    # --- rules -----------------------------------------------------------------

    def seed_rules(self, seed: list[rules.Rule]) -> None:
        """The reference data's rules, as events, the first time routing starts (never again)."""
        with self.store.write() as conn:
            ever = conn.execute(sa.select(events.c.position).where(events.c.type == "RoutingRuleAdded").limit(1))
            if ever.first() is not None:
                return
            for rule in seed:
                self._append_rule(conn, "RoutingRuleAdded", rule)

    def rules(self, conn: Connection | None = None) -> list[rules.Rule]:
        query = sa.select(rule_rows).order_by(rule_rows.c.seq)
        if conn is not None:
            return [_rule_from_row(r) for r in conn.execute(query)]
        with self.store.engine.connect() as c:
            return [_rule_from_row(r) for r in c.execute(query)]

    def _rule(self, conn: Connection, rule_id: str) -> rules.Rule | None:
        row = conn.execute(sa.select(rule_rows).where(rule_rows.c.rule_id == rule_id)).first()
        return _rule_from_row(row) if row else None

    def _append_rule(self, conn: Connection, type_: str, rule: rules.Rule) -> RecordedEvent:
        payload = {"rule_id": rule.rule_id} if type_ == "RoutingRuleRemoved" else rule.payload()
        (recorded,) = self.store.append(conn, [domain.rule_event(type_, payload)])
        if type_ == "RoutingRuleRemoved":
            conn.execute(rule_rows.delete().where(rule_rows.c.rule_id == rule.rule_id))
            return recorded
        values = {**rule.payload(), "keywords": json.dumps(list(rule.keywords)),
                  "kinds": json.dumps(list(rule.kinds)), "kelurahan": json.dumps(list(rule.kelurahan))}
        if type_ == "RoutingRuleChanged":
            conn.execute(rule_rows.update().where(rule_rows.c.rule_id == rule.rule_id).values(**values))
        else:
            seq = conn.execute(sa.select(sa.func.coalesce(sa.func.max(rule_rows.c.seq), 0))).scalar() + 1
            conn.execute(rule_rows.insert().values(seq=seq, **values))
        return recorded

    def agencies(self, conn: Connection | None = None) -> dict[str, str]:
        """Agencies routing can name: the reference data's and any a rule names."""
        known = {a.id: a.name for a in reference.load().agencies}
        for rule in self.rules(conn):
            known.setdefault(rule.agency_id, rule.agency_name)
        return known

    def add_rule(self, agency_id: str, keywords: list[str], kinds: list[str] = (), kelurahan: list[str] = (),
                 agency_name: str | None = None, rule_id: str | None = None) -> rules.Rule:
        with self.store.write() as conn:
            name = agency_name or self.agencies(conn).get(agency_id)
            if not name:
                raise RuleError(f"unknown agency {agency_id!r}: give its name too",
                                f"Instansi {agency_id!r} tidak dikenal: sebutkan juga namanya.")
            if rule_id is None:
                taken = {r.rule_id for r in self.rules(conn)}
                n = 1
                while f"{agency_id}-{n}" in taken:
                    n += 1
                rule_id = f"{agency_id}-{n}"
            elif self._rule(conn, rule_id) is not None:
                raise RuleError(f"a rule {rule_id!r} exists already", f"Aturan {rule_id!r} sudah ada.")
            rule = self._checked(rules.Rule(rule_id, agency_id, name, rules.normalize_keywords(keywords),
                                            tuple(kinds), tuple(kelurahan)))
            self._append_rule(conn, "RoutingRuleAdded", rule)
        return rule

    def change_rule(self, rule_id: str, **changes: Any) -> rules.Rule:
        with self.store.write() as conn:
            rule = self._rule(conn, rule_id)
            if rule is None:
                raise RuleError(f"no rule {rule_id!r}", f"Aturan {rule_id!r} tidak ada.")
            if changes.get("keywords") is not None:
                changes["keywords"] = rules.normalize_keywords(changes["keywords"])
            if changes.get("agency_id") and not changes.get("agency_name"):
                changes["agency_name"] = self.agencies(conn).get(changes["agency_id"])
                if not changes["agency_name"]:
                    raise RuleError(f"unknown agency {changes['agency_id']!r}: give its name too",
                                    f"Instansi {changes['agency_id']!r} tidak dikenal: sebutkan juga namanya.")
            updated = dataclasses.replace(rule, **{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in changes.items() if v is not None})
            updated = self._checked(updated)
            self._append_rule(conn, "RoutingRuleChanged", updated)
        return updated

    def remove_rule(self, rule_id: str) -> rules.Rule:
        with self.store.write() as conn:
            rule = self._rule(conn, rule_id)
            if rule is None:
                raise RuleError(f"no rule {rule_id!r}", f"Aturan {rule_id!r} tidak ada.")
            self._append_rule(conn, "RoutingRuleRemoved", rule)
        return rule

    @staticmethod
    def _checked(rule: rules.Rule) -> rules.Rule:
        if not RULE_ID_RE.match(rule.rule_id):
            raise RuleError("a rule id is lower-case letters, digits and '-', at most 60 characters",
                            "Kode aturan hanya boleh huruf kecil, angka dan '-', paling panjang 60 karakter.")
        if not rule.keywords:
            raise RuleError("a rule needs at least one keyword", "Aturan memerlukan sedikitnya satu kata kunci.")
        unknown_kinds = set(rule.kinds) - set(reference.load().kinds)
        if unknown_kinds:
            raise RuleError(f"unknown kind(s): {', '.join(sorted(unknown_kinds))}",
                            f"Jenis tidak dikenal: {', '.join(sorted(unknown_kinds))}.")
        unknown_places = set(rule.kelurahan) - set(reference.load().kelurahan)
        if unknown_places:
            raise RuleError(f"unknown kelurahan: {', '.join(sorted(unknown_places))}",
                            f"Kelurahan tidak dikenal: {', '.join(sorted(unknown_places))}.")
        return rule

    def test(self, text: str, kind: str = "keluhan", kelurahan: str = "") -> tuple[rules.Decision | None,
                                                                                    list[rules.Verdict]]:
        """Where a sample text would go, and every rule's verdict on it."""
        current = self.rules()
        return (rules.choose(kind=kind, kelurahan=kelurahan, texts=[text], rules=current),
                rules.explain(kind=kind, kelurahan=kelurahan, texts=[text], rules=current))

    # --- complaints --------------------------------------------------------------

    def _case(self, conn: Connection, complaint: str) -> domain.Case | None:
        """By complaint id or tracking code."""
        if len(complaint) == 9:
            condition = cases.c.tracking_code == complaint.upper()
        else:
            condition = cases.c.complaint_id == complaint
        row = conn.execute(sa.select(cases).where(condition)).first()
        return _case_from_row(row) if row else None

    def _save(self, conn: Connection, before: domain.Case | None, after: domain.Case) -> None:
        if before is None:
            conn.execute(cases.insert().values(**_case_to_row(after)))
        else:
            conn.execute(cases.update().where(cases.c.complaint_id == after.complaint_id).values(**_case_to_row(after)))

    def _append(self, conn: Connection, case: domain.Case, new_events: list[NewEvent]) -> domain.Case:
        for recorded in self.store.append(conn, new_events):
            case = domain.apply(case, recorded) or case
        return case

    def handle(self, event: RecordedEvent) -> None:
        """An event from another service: fold it in, react, in one commit with the tracking row.

        Events delivered together share that commit (``SharedTransaction``).
        """
        self.transactions.run(lambda conn: self._handle_in(conn, event))

    def _handle_in(self, conn: Connection, event: RecordedEvent) -> None:
        if self.store.handled(conn, CONSUMER, event.event_id):
            return
        before = self._case(conn, event.correlation_id)
        case = domain.apply(before, event)
        if case is None:
            log.warning("%s for unknown complaint %s ignored", event.type, event.correlation_id)
        else:
            case = self._append(conn, case, domain.react(case, event, self.rules(conn), self.policy))
            self._save(conn, before, case)
        self.store.record_handled(conn, CONSUMER, event.event_id)

    def decide(self, complaint: str, decision: Callable[[domain.Case], NewEvent]) -> RecordedEvent:
        """An operator's decision about one complaint. LookupError, domain.Refused."""
        with self.store.write() as conn:
            before = self._case(conn, complaint)
            if before is None:
                raise LookupError(complaint)
            new = decision(before)
            (recorded,) = self.store.append(conn, [new])
            self._save(conn, before, domain.apply(before, recorded) or before)
        return recorded

    def route_manually(self, complaint: str, agency_id: str, agency_name: str, reason: str,
                       operator: str) -> RecordedEvent:
        return self.decide(complaint, lambda case: domain.route_manually(
            case, agency_id, agency_name, reason, operator, self.policy))

    def reroute(self, complaint: str, agency_id: str, agency_name: str, reason: str, operator: str) -> RecordedEvent:
        return self.decide(complaint, lambda case: domain.reroute(
            case, agency_id, agency_name, f"{reason} (operator {operator})", "operator", self.policy))

    def reject(self, complaint: str, reason: str, operator: str) -> RecordedEvent:
        return self.decide(complaint, lambda case: domain.reject(case, f"{reason} (operator {operator})"))

    def case(self, complaint: str) -> domain.Case | None:
        with self.store.engine.connect() as conn:
            return self._case(conn, complaint)

    def raise_overdue(self, today: dt.date | None = None) -> list[str]:
        """ComplaintOverdue for every assigned complaint past its due date; returns their tracking codes."""
        today = today or deadlines.local_date(utc_now())
        raised = []
        with self.store.write() as conn:
            rows = conn.execute(
                sa.select(cases).where(cases.c.state == "assigned", cases.c.answered.is_(False),
                                       cases.c.overdue_raised.is_(False), cases.c.due_date < today.isoformat())
            ).all()
            for row in rows:
                case = _case_from_row(row)
                if domain.is_overdue(case, today):
                    self._save(conn, case, self._append(conn, case, [domain.overdue(case)]))
                    raised.append(case.tracking_code)
        return raised
