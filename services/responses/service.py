"""responses' nameko service: learns which agency must answer which complaint."""

from __future__ import annotations

from kesah.consumer import accept, inbox
from kesah.dependencies import Resource, SelfWatch
from kesah.logwatch import owner_watchdog
from kesah.eventstore import EventStore
from kesah.sourcelog import SourceLog

from .store import CONSUMER, Responses


class ResponsesService(SourceLog):
    name = "responses"

    responses = Resource(Responses.open)
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "responses"))

    @property
    def store(self) -> EventStore:  # type: ignore[override]
        return self.responses.store

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        self.responses.handle(accept(body, self.responses.keyring))
