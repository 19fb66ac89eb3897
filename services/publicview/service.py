"""publicview's nameko service: journals every public event and projects it."""

from __future__ import annotations

import logging

from kesah.consumer import accept, inbox
from kesah.dependencies import Resource, SelfWatch

from .store import PublicView
from .watch import publicview_watchdog

log = logging.getLogger("kesah.publicview")

CONSUMER = "publicview"


class PublicviewService:
    name = "publicview"

    view = Resource(PublicView.open)
    watchdog = SelfWatch(publicview_watchdog)

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        event = accept(body, self.view.keyring)
        if not self.view.receive(event):
            log.debug("event %s seen before", event.event_id)
