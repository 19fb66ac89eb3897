"""The RPC every owning service offers so others can read its log in pages."""

from __future__ import annotations

from typing import Any

from .rpc import rpc

from .eventstore import EventStore

MAX_PAGE = 5000


class SourceLog:
    """Mixed into an owner's nameko service; needs ``self.store`` (an EventStore)."""

    store: EventStore

    @rpc
    def events_after(self, position: int, limit: int = 1000) -> list[dict[str, Any]]:
        limit = max(1, min(int(limit), MAX_PAGE))
        return [e.to_message() for e in self.store.events_after(int(position), limit)]

    @rpc
    def head(self) -> dict[str, Any]:
        head = self.store.head()
        return {"source": self.store.source, "position": head.position, "hash": head.hash}
