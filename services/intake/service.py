"""intake's nameko service: serves its log to whoever replays it."""

from __future__ import annotations

from kesah.dependencies import Resource, SelfWatch
from kesah.logwatch import owner_watchdog
from kesah.sourcelog import SourceLog

from .store import Intake


class IntakeService(SourceLog):
    name = "intake"

    store = Resource(lambda settings: Intake.open(settings).store)
    watchdog = SelfWatch(lambda settings: owner_watchdog(settings, "intake"))
