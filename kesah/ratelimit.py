"""How often one client may submit: a flood from one address must not bury the city's queue.

A sliding window per client address, kept in the process's memory. Each
replica of intake's face counts on its own, so the limit a client meets is
per replica; the Ingress's rate limit is the shared one. Only submissions
that were accepted count: a form sent back with errors costs nothing.
Channels that sign their deliveries (webhooks, Open311 with an api_key) are
not limited here: a partner is known, and Meta retries a refused delivery.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Limit | None":
        """``"30/3600"`` (30 submissions per hour) or ``"off"`` (None). ValueError says what is wrong."""
        text = text.strip().lower()
        if text in ("off", "none", "0"):
            return None
        count, sep, seconds = text.partition("/")
        try:
            limit = cls(int(count), float(seconds))
        except ValueError:
            limit = None
        if not sep or limit is None or limit.count < 1 or limit.seconds <= 0:
            raise ValueError(f"must be COUNT/SECONDS such as 30/3600, or off; got {text!r}")
        return limit


class RateLimit:
    """Counts each client's accepted submissions over the last ``limit.seconds``."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic, clients: int = 50_000) -> None:
        self.limit = limit
        self._clock = clock
        self._clients = clients  # clients remembered at most; the least recent are forgotten first
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Count one submission for ``client`` and return 0, or return the seconds it must wait and count nothing."""
        with self._lock:
            now = self._clock()
            times = self._seen.get(client)
            if times is None:
                times = self._seen[client] = deque()
                while len(self._seen) > self._clients:
                    self._seen.popitem(last=False)
            while times and times[0] <= now - self.limit.seconds:
                times.popleft()
            if len(times) >= self.limit.count:
                return times[0] + self.limit.seconds - now
            times.append(now)
            self._seen.move_to_end(client)
            return 0.0


def minutes(seconds: float) -> int:
    """A wait as whole minutes for a person: rounded up, at least one."""
    return max(1, math.ceil(seconds / 60))
