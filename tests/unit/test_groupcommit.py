"""Group commit: concurrent writes share batches, each caller gets its own result or error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import pytest

from kesah.groupcommit import GroupCommit


class Recorder:
    """A write_batch that remembers its batches; slow enough that callers pile up behind it."""

    def __init__(self, bad: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.current: list[int] = []
        self.bad = bad or set()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.current = list(items)
        self.entered.set()
        self.release.wait(5)
        if self.bad & set(items):
            raise ValueError(f"bad item in {sorted(items)}")
        self.batches.append(list(items))
        return [i * 10 for i in items]


def queued(group: GroupCommit, count: int, write: Recorder | None = None) -> None:
    """Wait until ``count`` callers are in the leader's batch (held by ``write``) or queued behind it."""
    while len(group._queue) + (len(write.current) if write and write.entered.is_set() else 0) < count:
        time.sleep(0.001)


def test_each_caller_gets_its_own_result() -> None:
    write = Recorder()
    group = GroupCommit(write)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(group.write, range(200)))
    assert results == [i * 10 for i in range(200)]
    assert sorted(i for batch in write.batches for i in batch) == list(range(200))


def test_callers_that_arrive_while_a_batch_commits_share_the_next_one() -> None:
    write = Recorder()
    group = GroupCommit(write, max_batch=100)
    write.release.clear()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.write, 0)  # the leader, held inside write_batch
        assert write.entered.wait(5)
        rest = [pool.submit(group.write, i) for i in range(1, 8)]
        queued(group, 7)
        write.release.set()
        assert first.result(5) == 0 and [f.result(5) for f in rest] == [i * 10 for i in range(1, 8)]
    assert write.batches == [[0], list(range(1, 8))]


def test_batches_are_no_bigger_than_asked() -> None:
    write = Recorder()
    group = GroupCommit(write, max_batch=3)
    write.release.clear()
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(group.write, i) for i in range(10)]
        queued(group, 10, write)
        write.release.set()
        assert sorted(f.result(5) for f in futures) == [i * 10 for i in range(10)]
    assert max(len(b) for b in write.batches) <= 3


def test_a_bad_item_fails_only_its_own_caller() -> None:
    write = Recorder(bad={3})
    group = GroupCommit(write)
    write.release.clear()
    with ThreadPoolExecutor(6) as pool:
        futures = {i: pool.submit(group.write, i) for i in range(6)}
        queued(group, 6, write)
        write.release.set()
        with pytest.raises(ValueError):
            futures[3].result(5)
        assert {i: f.result(5) for i, f in futures.items() if i != 3} == {i: i * 10 for i in range(6) if i != 3}
    assert [3] not in write.batches


def test_when_the_database_fails_every_caller_gets_the_error_and_nothing_is_written_again() -> None:
    # A connection lost during COMMIT leaves the batch perhaps stored (a failover, a network reset):
    # written again item by item, each complaint would be stored twice.
    from sqlalchemy.exc import OperationalError

    class FailingOver(Recorder):
        def __call__(self, items: Sequence[int]) -> list[int]:
            if self.batches:  # the first batch commits, then the primary is gone
                self.current = list(items)
                self.failed.append(list(items))
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            return super().__call__(items)

    write = FailingOver()
    write.failed = []
    group = GroupCommit(write)
    write.release.clear()
    with ThreadPoolExecutor(6) as pool:
        futures = {i: pool.submit(group.write, i) for i in range(6)}
        queued(group, 6, write)
        write.release.set()
        errors = {}
        for i, future in futures.items():
            try:
                future.result(5)
            except OperationalError as exc:
                errors[i] = exc
    assert len(write.batches) == 1 and sorted(errors) == sorted(set(range(6)) - set(write.batches[0]))
    assert len(write.failed) == 1, f"written again after the database failed: {write.failed}"
