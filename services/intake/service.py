"""intake's nameko service: serves its log to whoever replays it, learns what the reporter may do next,
and lets the operator pages complete the social-media posts that wait."""

from __future__ import annotations

import dataclasses
from typing import Any

from kesah import reference
from kesah.consumer import accept, inbox
from kesah.dependencies import Resource, SelfWatch
from kesah.eventstore import EventStore
from kesah.logwatch import owner_watchdog
from kesah.refusal import Refusal, answer
from kesah.rpc import rpc
from kesah.sourcelog import SourceLog

from .schemas import canonical_kelurahan
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

    # --- the operator pages' queue of channel posts (the portal asks over RPC) ---------

    @rpc
    def waiting_posts(self, limit: int = 100) -> list[dict[str, Any]]:
        """Posts that wait for an operator to give their kind or kelurahan, oldest first. No author."""
        return [dataclasses.asdict(post) for post in self.intake.waiting_posts(limit)]

    @rpc
    def complete_post(self, post_id: str, kind: str, kelurahan: str) -> dict[str, Any]:
        """Give a waiting post what it lacks: it is submitted and routed. ``{"ok": tracking code}`` or
        ``{"error": why, in Indonesian}``."""
        def complete() -> str:
            if kind not in reference.load().kinds:
                raise Refusal(f"unknown kind {kind!r}", "Pilih jenis aduan.", 422)
            place = canonical_kelurahan(kelurahan or "")
            if place is None:
                raise Refusal(f"unknown kelurahan {kelurahan!r}", "Pilih kelurahan lokasi aduan.", 422)
            return self.intake.complete_post(post_id, kind, place).tracking_code  # PostProblem: 404 / 409

        return answer(complete)
