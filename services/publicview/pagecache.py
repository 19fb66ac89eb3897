"""Public pages kept while the projection has not changed: a read is then a dictionary lookup.

The projection changes only when publicview's worker (or an operator's
rebuild) commits. On SQLite every commit by another connection moves the
file's ``PRAGMA data_version`` (a few microseconds to read, no lock taken);
together with the file's identity (a replayed database is a new file) it is
the version an answer was made from. A page is served from memory only if
the version is the same and the answer is at most ``max_age`` seconds old
(the home page's count may lag the projection by that much; it must not stay
behind for good). On PostgreSQL nothing is kept: there is no such cheap
version, and the pages are read from the database every time; nor with
``KESAH_PAGE_CACHE=off``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Awaitable, Callable

from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.responses import Response

from kesah import database
from kesah.metrics import Family

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Stored:
    version: Version
    made_at: float
    status_code: int
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def response(self) -> Response:
        response = Response.__new__(Response)
        response.status_code, response.body, response.background = self.status_code, self.body, None
        response.raw_headers = list(self.raw_headers)
        return response


class PageCache:
    def __init__(self, url: str, max_bytes: int = 32 * 1024 * 1024, max_age: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, enabled: bool = True) -> None:
        parsed = make_url(url)
        on_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
        self.path = parsed.database if on_file and enabled else None
        self.max_bytes, self.max_age, self._clock = max_bytes, max_age, clock
        self._bytes = 0
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._opened: tuple[int, int] | None = None
        self.hits = self.misses = 0

    def version(self) -> Version | None:
        """The projection's version now; None when answers cannot be kept (PostgreSQL, no file yet, an error)."""
        if self.path is None:
            return None
        identity = database.file_identity(self.path)
        if identity is None:
            return None
        try:
            with self._lock:
                if self._conn is None or identity != self._opened:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=0.05,
                                                 isolation_level=None, check_same_thread=False)
                    self._opened = identity
                (changes,) = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self._conn = None
            return None
        return identity + (changes,)

    def families(self) -> list[Family]:
        """For /metrics: how often a page came from memory, and how much is kept."""
        reads = Family("kesah_page_cache_reads_total", "counter", "public page reads, from memory (hit) or not (miss)")
        reads.add(self.hits, result="hit").add(self.misses, result="miss")
        kept = Family("kesah_page_cache_bytes", "gauge", "bytes of pages kept in memory")
        return [reads, kept.add(self._bytes)]

    def serve(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """The handler, answering a GET from memory when the same page was made from the same projection."""

        async def endpoint(request: Request) -> Response:
            if request.method != "GET":
                return await handler(request)
            key = request.url.path + "?" + request.url.query
            version = self.version()  # before the handler reads: a change meanwhile makes the entry stale
            if version is not None:
                stored = self._entries.get(key)
                if stored is not None and stored.version == version and self._clock() - stored.made_at < self.max_age:
                    self.hits += 1
                    return stored.response()
            self.misses += 1
            response = await handler(request)
            if version is not None and response.status_code == 200 and isinstance(getattr(response, "body", None), bytes):
                self._keep(key, Stored(version, self._clock(), response.status_code,
                                       tuple(response.raw_headers), response.body))
            return response

        return endpoint

    def _keep(self, key: str, stored: Stored) -> None:
        """Keep an answer; the least recently made go first when the pages pass ``max_bytes``."""
        old = self._entries.pop(key, None)
        self._bytes += len(stored.body) - (len(old.body) if old else 0)
        self._entries[key] = stored
        while self._bytes > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.body)
