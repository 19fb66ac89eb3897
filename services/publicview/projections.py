"""The public view of one complaint, folded from its events. Pure.

The fold itself (status, agency, due date, timeline per event type) is
``kesah.lifecycle``, shared with the agency portal's case file; this module
decides what of it the public sees.

Live handling and replay run this same function over the same set of
events, so they cannot disagree. The result does not depend on the order
events arrived in: they are put in causal order first (a cause before its
effects, then by time, source and position), which is what makes a rebuild
from any genuine copy of the log give the same projection, byte for byte.
"""

from __future__ import annotations

from typing import Any, Iterable

from kesah.contracts import RecordedEvent
from kesah.lifecycle import CHANNEL_LABELS, KIND_LABELS, STATUS_LABELS, causal_order, fold

__all__ = ["CHANNEL_LABELS", "KIND_LABELS", "STATUS_LABELS", "causal_order", "complaint_view", "redact"]


def complaint_view(events: Iterable[RecordedEvent]) -> dict[str, Any] | None:
    """The public document of one complaint; None until its submission is known."""
    doc = fold(events)
    if doc is None:
        return None
    if doc["visibility"] == "confidential":
        return redact(doc)
    return doc


def redact(doc: dict[str, Any]) -> dict[str, Any]:
    """A confidential complaint is routed and answered, but the public sees only that it exists."""
    return {
        "complaint_id": doc["complaint_id"],
        "tracking_code": doc["tracking_code"],
        "visibility": "confidential",
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["submitted_at"],
        "status": None,
        "kind": None,
        "kelurahan": None,
        "agency": None,
    }
