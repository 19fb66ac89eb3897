"""publicview's nameko service: journals every public event and projects it.

It also asks each owner for its log head every few seconds, so the status
page can say how far behind the public view is, and catches up over RPC
(``events_after``) with what its inbox will not bring:

- once per source after start: whatever the owner's log holds beyond what
  the journal holds (a new instance with an empty database fills itself; a
  publicview that was down gets what its inbox lost);
- when its watchdog found the journal damaged, or moved a damaged database
  file aside (KESAH_SELF_HEAL on): every source again from the first event
  the journal lacks.
"""

from __future__ import annotations

import logging

import eventlet
from nameko.timer import timer

from kesah.config import OWNERS, Settings
from kesah.consumer import Rejected, accept, inbox
from kesah.contracts import ContractError
from kesah.dependencies import Resource, SelfWatch
from kesah.rpc import RpcProxy

from . import recovery, storefile
from .store import PublicView
from .watch import publicview_watchdog

log = logging.getLogger("kesah.publicview")

CONSUMER = "publicview"
HEADS_EVERY_SECONDS = 5
HEAD_TIMEOUT_SECONDS = 3
PAGE_TIMEOUT_SECONDS = 30


def open_view(settings: Settings) -> PublicView:
    """The handlers' view; a damaged file found at start is moved aside first (the catch-up refills the new one)."""
    storefile.heal_at_start(settings)
    return PublicView.open(settings)


class CatchUp:
    """Which sources this instance has caught up with since it started."""

    def __init__(self, settings: object = None) -> None:
        self.done: set[str] = set()


class PublicviewService:
    name = "publicview"

    view = Resource(open_view)
    caught_up = Resource(CatchUp)
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
        # All owners at once: one that is down costs HEAD_TIMEOUT_SECONDS once, not once per owner
        # (nameko waits for this worker when it stops).
        pile = eventlet.GreenPile()
        for source in OWNERS:
            pile.spawn(self._head, source)
        heads: dict[str, int] = {}
        for source, head in zip(OWNERS, pile):
            if head is not None:
                self.view.record_source_head(source, int(head["position"]), head["hash"])
                heads[source] = int(head["position"])
        self.catch_up(heads)

    def _head(self, source: str) -> dict | None:
        try:
            with eventlet.Timeout(HEAD_TIMEOUT_SECONDS):
                return getattr(self, source).head()
        except (Exception, eventlet.Timeout) as exc:  # a source that is down is what the page shows
            log.info("log head of %s unknown: %s", source, exc.__class__.__name__)
            return None

    def catch_up(self, heads: dict[str, int]) -> None:
        journal = next((w for w in self.watchdog.watches if w.name == "integrity"), None)
        damaged = journal is not None and journal.refill_requested
        pending = [s for s in heads if damaged or s not in self.caught_up.done]
        if not pending:
            return
        held = recovery.contiguous(self.view)  # one pass over the journal: only while something is pending
        sources = recovery.Sources(self._call)
        for source in pending:
            head = heads[source]
            after = held.get(source, 0)
            if head > after:
                refused: list[recovery.Refusal] = []
                try:
                    count = recovery.refill(self.view, sources.events(source, after), refused=refused, project=True)
                except (Exception, eventlet.Timeout) as exc:  # the owner or the broker went away: next round
                    log.info("catching up with %s: %s; trying again", source, exc.__class__.__name__)
                    return
                log.info("caught up with %s: %d event(s) after position %d journaled over RPC", source, count, after)
                for refusal in refused:
                    log.error("catching up with %s: refused %s", source, refusal)
            self.caught_up.done.add(source)
        if damaged and set(heads) == set(OWNERS):
            journal.refill_requested = False

    def _call(self, source: str, method: str, **kwargs: object) -> object:
        with eventlet.Timeout(PAGE_TIMEOUT_SECONDS):
            return getattr(getattr(self, source), method)(**kwargs)
