"""routing's nameko service: routes, re-routes, watches due dates; operators' decisions over RPC.

The agency portal's operator pages call the RPC methods below; they run the
same ``Routing`` code as the ``kesah rules`` and ``kesah deadlines`` commands.
Errors come back as ``{"error": message}`` (Indonesian, for the page) rather
than as remote exceptions.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from nameko.timer import timer

from kesah import config, refusal
from kesah.consumer import accept, inbox
from kesah.dependencies import Resource, SelfWatch
from kesah.eventstore import EventStore
from kesah.logwatch import owner_watchdog
from kesah.rpc import rpc
from kesah.sourcelog import SourceLog

from .store import CONSUMER, Routing

log = logging.getLogger("kesah.routing")

# Read when the service class is built: nameko fixes a timer's interval then.
DEADLINE_CHECK_SECONDS = config.load().deadline_check_seconds


def _answer(action: Callable[[], Any]) -> dict[str, Any]:
    """``refusal.answer``; a complaint routing does not know is 404."""
    try:
        return refusal.answer(action)
    except LookupError:
        return {"error": "Aduan tidak ditemukan di routing.", "status": 404}


def rule_dict(rule: Any) -> dict[str, Any]:
    return rule.payload()


class RoutingService(SourceLog):
    name = "routing"

    routing = Resource(Routing.open)
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "routing"))
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "routing"))

    @property
    def store(self) -> EventStore:  # type: ignore[override]
        return self.routing.store

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        self.routing.handle(accept(body, self.routing.keyring))

    @timer(interval=DEADLINE_CHECK_SECONDS)
    def check_deadlines(self) -> None:
        raised = self.routing.raise_overdue()
        if raised:
            log.info("overdue: %s", ", ".join(raised))

    # --- operators' decisions (RPC) ----------------------------------------------

    @rpc
    def route(self, complaint: str, agency_id: str, agency_name: str, reason: str, operator: str) -> dict[str, Any]:
        return _answer(lambda: self.routing.route_manually(complaint, agency_id, agency_name, reason, operator).event_id)

    @rpc
    def reroute(self, complaint: str, agency_id: str, agency_name: str, reason: str, operator: str) -> dict[str, Any]:
        return _answer(lambda: self.routing.reroute(complaint, agency_id, agency_name, reason, operator).event_id)

    @rpc
    def reject(self, complaint: str, reason: str, operator: str) -> dict[str, Any]:
        return _answer(lambda: self.routing.reject(complaint, reason, operator).event_id)

    @rpc
    def list_rules(self) -> list[dict[str, Any]]:
        return [rule_dict(r) for r in self.routing.rules()]

    @rpc
    def add_rule(self, agency_id: str, agency_name: str, keywords: list[str], kinds: list[str],
                 kelurahan: list[str]) -> dict[str, Any]:
        return _answer(lambda: rule_dict(self.routing.add_rule(agency_id, keywords, kinds, kelurahan, agency_name)))

    @rpc
    def remove_rule(self, rule_id: str) -> dict[str, Any]:
        return _answer(lambda: rule_dict(self.routing.remove_rule(rule_id)))

    @rpc
    def test_rules(self, text: str, kind: str, kelurahan: str) -> dict[str, Any]:
        decision, verdicts = self.routing.test(text, kind, kelurahan)
        return {
            "decision": None if decision is None else {"agency_id": decision.agency_id,
                                                       "agency_name": decision.agency_name,
                                                       "reason": decision.reason},
            "verdicts": [{"rule_id": v.rule.rule_id, "agency_id": v.rule.agency_id,
                          "matched_keywords": list(v.matched_keywords), "skipped": v.skipped} for v in verdicts],
        }
