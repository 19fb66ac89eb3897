"""Group commit: the writes of callers that arrive together share one transaction.

A durable commit costs an fsync (SQLite) or a WAL flush (PostgreSQL), and a
store has one writer at a time. One transaction per HTTP request makes the
commit the limit, and threads queueing on SQLite's write lock wait in its
busy handler's growing sleeps (seconds at the tail). Here the first caller
becomes the leader: it takes everything queued (up to ``max_batch``), runs
it in one transaction through ``write_batch``, hands each caller its own
result, and goes on while more are queued; the others just wait for theirs.
Nobody's result is returned before the commit that holds it.

If a batch fails, each of its items is written again alone, so one bad
item fails only its own caller; unless the database failed (``transient``:
away, failing over, the connection lost): then every caller gets the error.
Each item alone would fail the same way, and a batch whose COMMIT lost its
answer may be stored after all: written again, it would be stored twice.

``SharedTransaction`` applies this to event handlers: each handler's work
runs in one write transaction shared with the handlers that arrived
meanwhile, and the message is acked only after that commit. In a nameko
service (eventlet) the leader first lets the other green threads run up to
their own ``run``, so the batch holds every message already delivered.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, ContextManager, Generic, Sequence, TypeVar

from .database import transient

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("item", "result", "error", "done")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write_batch: Callable[[Sequence[Item]], Sequence[Result]], max_batch: int = 100) -> None:
        self.write_batch = write_batch
        self.max_batch = max_batch
        self._changed = threading.Condition()
        self._queue: list[_Waiter[Item, Result]] = []
        self._leading = False

    def write(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is queued); its result once committed."""
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._changed:
            self._queue.append(waiter)
            while self._leading and not waiter.done:
                self._changed.wait()
            lead = not waiter.done
            if lead:
                self._leading = True
        if lead:
            try:
                self._lead()
            finally:
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Write batches until the queue is empty (the leader's own item is in the first)."""
        while True:
            _let_others_queue()
            with self._changed:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            if not batch:
                return
            try:
                self._write(batch)
            except BaseException as exc:  # the leader is being torn down: nobody may wait forever
                self._settle(batch, error=exc)
                raise

    def _write(self, batch: list[_Waiter[Item, Result]]) -> None:
        try:
            results = list(self.write_batch([w.item for w in batch]))
        except Exception as exc:
            if len(batch) == 1 or transient(exc):
                self._settle(batch, error=exc)
                return
            for waiter in batch:  # find the bad one: each alone
                self._write([waiter])
            return
        for waiter, result in zip(batch, results):
            waiter.result = result
        self._settle(batch)

    def _settle(self, batch: list[_Waiter[Item, Result]], error: BaseException | None = None) -> None:
        with self._changed:
            for waiter in batch:
                if not waiter.done:
                    waiter.error = error
                    waiter.done = True
            self._changed.notify_all()


def _let_others_queue() -> None:
    """Under eventlet, let every runnable green thread reach ``write`` first (threads need nothing)."""
    patcher = sys.modules.get("eventlet.patcher")  # never import eventlet where nothing uses it
    if patcher is not None and patcher.is_monkey_patched("thread"):
        from eventlet import sleep

        sleep(0)


class SharedTransaction:
    """Work of concurrent handlers in one write transaction: ``run(work)`` returns ``work(conn)``'s result."""

    def __init__(self, begin: Callable[[], ContextManager[Any]], max_batch: int = 100) -> None:
        self._begin = begin
        self._group: GroupCommit[Callable[[Any], Any], Any] = GroupCommit(self._together, max_batch)

    def run(self, work: Callable[[Any], Result]) -> Result:
        return self._group.write(work)

    def _together(self, works: Sequence[Callable[[Any], Any]]) -> list[Any]:
        with self._begin() as conn:
            return [work(conn) for work in works]
