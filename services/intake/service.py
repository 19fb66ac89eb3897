"""intake's nameko service: serves its log to whoever replays it, and learns what the reporter may do next."""

from __future__ import annotations

from kesah.consumer import accept, inbox
from kesah.dependencies import Resource, SelfWatch
from kesah.eventstore import EventStore
from kesah.logwatch import owner_watchdog
from kesah.sourcelog import SourceLog

from .store import CONSUMER, Intake


class IntakeService(SourceLog):
    name = "intake"

    intake = Resource(Intake.open)
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "intake"))

    @property
    def store(self) -> EventStore:  # type: ignore[override]
        return self.intake.store

    @inbox(CONSUMER)
    def on_event(self, body: object) -> None:
        self.intake.handle(accept(body, self.intake.keyring))
