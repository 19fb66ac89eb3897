"""publicview's nameko service: journals every public event and projects it.

It also asks each owner for its log head every few seconds, so the status
page can say how far behind the public view is.
"""

from __future__ import annotations

import logging

import eventlet
from nameko.rpc import RpcProxy
from nameko.timer import timer

from kesah.config import OWNERS
from kesah.consumer import Rejected, accept, inbox
from kesah.contracts import ContractError
from kesah.dependencies import Resource, SelfWatch

from .store import PublicView
from .watch import publicview_watchdog

log = logging.getLogger("kesah.publicview")

CONSUMER = "publicview"
HEADS_EVERY_SECONDS = 5
HEAD_TIMEOUT_SECONDS = 3


class PublicviewService:
    name = "publicview"

    view = Resource(PublicView.open)
    watchdog = SelfWatch(publicview_watchdog)
    intake = RpcProxy("intake")
    routing = RpcProxy("routing")
    responses = RpcProxy("responses")

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        event = accept(body, self.view.keyring)
        try:
            fresh = self.view.receive(event)
        except ContractError as exc:  # it does not fit the chain the journal holds
            raise Rejected(str(exc)) from None
        if not fresh:
            log.debug("event %s seen before", event.event_id)

    @timer(interval=HEADS_EVERY_SECONDS, eager=True)
    def ask_heads(self) -> None:
        for source in OWNERS:
            try:
                with eventlet.Timeout(HEAD_TIMEOUT_SECONDS):
                    head = getattr(self, source).head()
            except (Exception, eventlet.Timeout) as exc:  # a source that is down is what the page shows
                log.info("log head of %s unknown: %s", source, exc.__class__.__name__)
                continue
            self.view.record_source_head(source, int(head["position"]), head["hash"])
