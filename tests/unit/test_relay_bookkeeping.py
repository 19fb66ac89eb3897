"""The relay's waits and its memory of what the broker confirmed (pure logic; fakes for the store and broker)."""

from __future__ import annotations

import sqlite3
from typing import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from kesah.relay import Backoff, Confirms, NotConfirmed, Relay, StoreOutbox
from tests.unit.events import recorded


def recorded_submission(position: int):  # type: ignore[no-untyped-def]
    return recorded("intake", "ComplaintSubmitted", {}, position=position, occurred_at="2026-12-07T02:00:00Z")


def test_backoff_doubles_up_to_its_cap_and_a_success_starts_again() -> None:
    backoff = Backoff(first=0.5, cap=4.0)
    assert [backoff.failed() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.current == 4.0
    backoff.succeeded()
    assert backoff.current == 0.0 and backoff.failed() == 0.5


def test_backoff_survives_very_many_failures() -> None:
    backoff = Backoff(first=0.5, cap=30.0)
    for _ in range(5000):
        wait = backoff.failed()
    assert wait == 30.0


def test_confirms_out_of_order_and_several_at_once() -> None:
    confirms = Confirms()
    tags = [confirms.published() for _ in range(6)]
    assert tags == [1, 2, 3, 4, 5, 6]
    confirms.ack(3)  # out of order: 1 and 2 are not confirmed by it
    assert confirms.acked(tags) == {3}
    confirms.ack(2, multiple=True)
    assert confirms.acked(tags) == {1, 2, 3}
    confirms.nack(5)
    assert confirms.acked(tags) == {1, 2, 3} and confirms.nacked == {5}
    assert confirms.outstanding == {4, 6}
    confirms.ack(6, multiple=True)
    assert confirms.acked(tags) == {1, 2, 3, 4, 6} and not confirms.outstanding


def test_a_store_outbox_never_offers_again_what_the_broker_confirmed() -> None:
    events = [recorded_submission(position=p) for p in (1, 2, 3)]
    outbox = StoreOutbox("intake", Backoff(first=0.5, cap=8.0))
    outbox.confirm([1, 2])
    assert [e.position for e in outbox.to_publish(events)] == [3]
    outbox.marked([1])
    assert [e.position for e in outbox.to_publish(events)] == [1, 3]  # 1 left the outbox: the store says so


def test_a_failing_store_waits_longer_each_time_and_recovers_once() -> None:
    outbox = StoreOutbox("intake", Backoff(first=0.5, cap=2.0))
    assert outbox.due(0.0)
    assert outbox.failed(10.0, "disk full") == 0.5
    assert not outbox.due(10.4) and outbox.due(10.5)
    assert outbox.failed(10.5, "disk full") == 1.0
    assert outbox.failed(11.5, "disk full") == 2.0
    assert outbox.failed(13.5, "disk full") == 2.0
    assert outbox.errors == 4 and outbox.problem == "disk full"
    assert outbox.recovered() is True
    assert outbox.problem is None and outbox.due(0.0) and outbox.recovered() is False


# --- the relay's round, with a store and a broker that can be made to fail -----------------------

def disk_full() -> OperationalError:
    return OperationalError("DELETE FROM outbox", {}, sqlite3.OperationalError("database or disk is full"))


class FakeEngine:
    url = "sqlite:////srv/kesah/intake.db"


class FakeStore:
    def __init__(self, source: str, count: int) -> None:
        self.source = source
        self.engine = FakeEngine()
        self.outbox = {p: recorded_submission(position=p) for p in range(1, count + 1)}
        self.full = False
        self.marks: list[list[int]] = []

    def pending(self, limit: int) -> list:
        return [self.outbox[p] for p in sorted(self.outbox)][:limit]

    def mark_published(self, positions: Sequence[int]) -> None:
        self.marks.append(list(positions))
        if self.full:
            raise disk_full()
        for p in positions:
            self.outbox.pop(p, None)

    def outbox_size(self) -> int:
        return len(self.outbox)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[int] = []
        self.confirm_only: set[int] | None = None  # None: the broker confirms everything

    def publish(self, batch: Sequence) -> None:
        self.published += [e.position for e in batch]
        if self.confirm_only is not None:
            raise NotConfirmed("broker did not confirm in time", [p for p in (e.position for e in batch)
                                                                   if p in self.confirm_only])


class FakeAlerter:
    def __init__(self) -> None:
        self.fired: list[tuple[str, str, dict]] = []
        self.resolved: list[str] = []

    def fire(self, check: str, problem: str, details: dict | None = None, round_number: int | None = None) -> None:
        self.fired.append((check, problem, details or {}))

    def resolve(self, check: str, note: str = "") -> None:
        self.resolved.append(check)


def make_relay(*stores: FakeStore) -> tuple[Relay, FakeAlerter]:
    alerter = FakeAlerter()
    relay = Relay(list(stores), "amqp://unused", batch=10, retry_max_seconds=4.0, alerter=alerter)  # type: ignore[arg-type]
    return relay, alerter


def test_a_batch_confirmed_but_not_recorded_is_recorded_later_and_never_published_again() -> None:
    store = FakeStore("intake", 3)
    relay, alerter = make_relay(store)
    publisher = FakePublisher()
    store.full = True
    assert relay.drain_once(publisher, now=0.0) == 0  # type: ignore[arg-type]
    assert publisher.published == [1, 2, 3] and relay.outboxes["intake"].confirmed == {1, 2, 3}
    problem = relay.outboxes["intake"].problem
    assert problem and problem.startswith("disk full: cannot record 3 event(s)") and "/srv/kesah/intake.db" in problem
    assert [a[0] for a in alerter.fired] == ["outbox intake"] and alerter.fired[0][2]["disk_full"] is True

    # Rounds while the disk stays full: only the delete is tried, each after a longer wait; nothing is published.
    now, waits = relay.outboxes["intake"].retry_at, []
    assert now == 0.5
    for _ in range(4):
        assert relay.drain_once(publisher, now=now) == 0  # type: ignore[arg-type]
        waits.append(relay.outboxes["intake"].backoff.current)
        now = relay.outboxes["intake"].retry_at
    assert publisher.published == [1, 2, 3]
    assert waits == [1.0, 2.0, 4.0, 4.0]
    assert relay.drain_once(publisher, now=now - 0.1) == 0  # type: ignore[arg-type]  # not its turn: untouched
    assert len(store.marks) == 5 and len(alerter.fired) == 1  # one alert for the whole episode

    store.full = False
    store.outbox[4] = recorded_submission(position=4)
    relay.drain_once(publisher, now=now)  # type: ignore[arg-type]
    assert publisher.published == [1, 2, 3, 4]
    assert store.marks[-2:] == [[1, 2, 3], [4]] and not store.outbox
    assert relay.outboxes["intake"].problem is None and alerter.resolved == ["outbox intake"]
    assert relay.sent == 4


def test_a_full_store_does_not_hold_up_the_others() -> None:
    full, fine = FakeStore("intake", 2), FakeStore("routing", 2)
    relay, _ = make_relay(full, fine)
    publisher = FakePublisher()
    full.full = True
    assert relay.drain_once(publisher, now=0.0) == 2  # type: ignore[arg-type]
    assert not fine.outbox and set(full.outbox) == {1, 2}


def test_what_the_broker_confirmed_of_a_batch_it_did_not_finish_is_not_published_again() -> None:
    store = FakeStore("intake", 4)
    relay, _ = make_relay(store)
    publisher = FakePublisher()
    publisher.confirm_only = {1, 3}
    with pytest.raises(NotConfirmed):
        relay.drain_once(publisher, now=0.0)  # type: ignore[arg-type]
    publisher.confirm_only = None
    relay.drain_once(publisher, now=0.0)  # type: ignore[arg-type]
    assert publisher.published == [1, 2, 3, 4, 2, 4]
    assert not store.outbox and relay.published == 4


def test_stores_wait_up_to_the_setting_and_the_broker_up_to_five_seconds() -> None:
    relay = Relay([FakeStore("intake", 0)], "amqp://unused", retry_max_seconds=30.0)  # type: ignore[list-item]
    assert [relay.outboxes["intake"].backoff.failed() for _ in range(8)][-1] == 30.0
    assert [relay.broker_backoff.failed() for _ in range(8)][-1] == 5.0
