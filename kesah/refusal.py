"""An owner's refusal of what an operator asked, said for both of its readers.

``str()`` is English for the CLI and the logs; ``in_indonesian`` is what the
operator pages show; ``status`` is the HTTP status the page answers with.
The owners answer the operator pages over nameko RPC through ``answer``.
"""

from __future__ import annotations

from typing import Any, Callable


class Refusal(Exception):
    status = 409  # the state does not allow it

    def __init__(self, message: str, in_indonesian: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.in_indonesian = in_indonesian or message
        if status is not None:
            self.status = status


def answer(action: Callable[[], Any]) -> dict[str, Any]:
    """``{"ok": action()}``, or ``{"error": why in Indonesian, "status": HTTP status}`` when it is refused."""
    try:
        return {"ok": action()}
    except Refusal as exc:
        return {"error": exc.in_indonesian, "status": exc.status}
