"""A progress bar for long operator commands, on stderr so stdout stays the report.

On a terminal the bar is redrawn in place; elsewhere (CI, a log file) it
prints a line at every tenth, so a log shows progress without a flood.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._tenth = -1

    def update(self, done: int) -> None:
        """Set how much is done (it never goes back)."""
        self.done = max(self.done, min(done, self.total) if self.total else done)
        if self.live:
            self.stream.write("\r" + self.render())
            self.stream.flush()
            return
        tenth = self.done * 10 // self.total if self.total else 0
        if tenth > self._tenth:
            self._tenth = tenth
            self.stream.write(self.render() + "\n")
            self.stream.flush()

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def render(self) -> str:
        if not self.total:
            return f"{self.label} {self.done}"
        filled = WIDTH * self.done // self.total
        return (f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                f"{self.done}/{self.total} {100 * self.done // self.total:3d}%")

    def close(self) -> None:
        self.update(self.total)
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
