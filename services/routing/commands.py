"""Operator commands for routing: ``kesah rules ...`` and ``kesah deadlines check``.

They act on routing's own store through the same ``Routing`` code the
service runs (the store's write lock keeps them and the service in turn), so
they work while RabbitMQ or the service is down; the events they append are
published by the relay.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from kesah.cli import CliError, settings


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="routing rules: which agency gets which complaints")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the rules in the order they are tried")
    a = actions.add_parser("add", help="add a rule")
    a.add_argument("--agency", required=True, help="agency id, e.g. pupr")
    a.add_argument("--agency-name", help="the agency's name (needed only for an agency routing does not know)")
    a.add_argument("--keywords", required=True, help="comma-separated words or phrases")
    a.add_argument("--kinds", help="comma-separated kinds it applies to (default: all)")
    a.add_argument("--kelurahan", help="comma-separated kelurahan it applies to (default: everywhere)")
    a.add_argument("--id", dest="rule_id", help="rule id (default: <agency>-<n>)")
    c = actions.add_parser("change", help="change a rule's agency, keywords, kinds or kelurahan")
    c.add_argument("rule_id")
    c.add_argument("--agency")
    c.add_argument("--agency-name")
    c.add_argument("--keywords")
    c.add_argument("--kinds", help="comma-separated; '' for all kinds")
    c.add_argument("--kelurahan", help="comma-separated; '' for everywhere")
    r = actions.add_parser("remove", help="remove a rule")
    r.add_argument("rule_id")
    t = actions.add_parser("test", help="which agency a sample text would go to, and why")
    t.add_argument("text")
    t.add_argument("--kind", default="keluhan")
    t.add_argument("--kelurahan", default="")
    p.set_defaults(run=rules_command)

    p = sub.add_parser("deadlines", help="due dates")
    p.add_argument("action", choices=("check",), help="raise ComplaintOverdue for complaints past their due date")
    p.add_argument("--today", type=dt.date.fromisoformat, help="check as of this date (YYYY-MM-DD; default: today in WITA)")
    p.set_defaults(run=deadlines_command)


def _routing():  # type: ignore[no-untyped-def]
    from .store import Routing

    return Routing.open(settings())


def _show(rule: Any) -> str:
    limits = []
    if rule.kinds:
        limits.append("kinds: " + ", ".join(rule.kinds))
    if rule.kelurahan:
        limits.append("kelurahan: " + ", ".join(rule.kelurahan))
    extra = f"  [{'; '.join(limits)}]" if limits else ""
    return f"{rule.rule_id:<16} -> {rule.agency_id:<12} {', '.join(rule.keywords)}{extra}"


SKIPPED = {
    "declined": lambda rule: "its agency declined this complaint",
    "kind": lambda rule: "only for " + ", ".join(rule.kinds),
    "kelurahan": lambda rule: "only in " + ", ".join(rule.kelurahan),
}


def rules_command(args: argparse.Namespace) -> int:
    from .store import RuleError

    routing = _routing()
    try:
        if args.action == "list":
            for rule in routing.rules():
                print(_show(rule))
        elif args.action == "add":
            rule = routing.add_rule(args.agency, _list(args.keywords) or [], _list(args.kinds) or [],
                                    _list(args.kelurahan) or [], args.agency_name, args.rule_id)
            print("added " + _show(rule))
        elif args.action == "change":
            rule = routing.change_rule(args.rule_id, agency_id=args.agency, agency_name=args.agency_name,
                                       keywords=_list(args.keywords), kinds=_list(args.kinds),
                                       kelurahan=_list(args.kelurahan))
            print("changed " + _show(rule))
        elif args.action == "remove":
            rule = routing.remove_rule(args.rule_id)
            print("removed " + _show(rule))
        else:
            decision, verdicts = routing.test(args.text, args.kind, args.kelurahan)
            if decision is None:
                print("-> no rule matches: the complaint would wait in the operator's queue")
            else:
                print(f"-> {decision.agency_id} ({decision.agency_name}) by rule {decision.rule_id}: "
                      f"matched {', '.join(decision.matched_keywords)}")
            for verdict in verdicts:
                if verdict.matched_keywords:
                    print(f"   {verdict.rule.rule_id}: matched {', '.join(verdict.matched_keywords)}")
                elif verdict.skipped:
                    print(f"   {verdict.rule.rule_id}: skipped ({SKIPPED[verdict.skipped](verdict.rule)})")
    except RuleError as exc:
        raise CliError(str(exc)) from None
    finally:
        routing.store.engine.dispose()
    return 0


def deadlines_command(args: argparse.Namespace) -> int:
    routing = _routing()
    try:
        raised = routing.raise_overdue(args.today)
    finally:
        routing.store.engine.dispose()
    print(f"{len(raised)} complaint(s) newly overdue" + (": " + ", ".join(raised) if raised else ""))
    return 0
