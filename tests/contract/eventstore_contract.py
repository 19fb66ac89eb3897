"""The event store's contract, proven the same way on every database.

Each adapter's test module subclasses ``EventStoreContract`` and provides a
``url`` fixture; nothing else differs.
"""

from __future__ import annotations

import threading
import uuid
from typing import Callable, Iterator

import pytest
import sqlalchemy as sa

from kesah import contracts, database, signing
from kesah.contracts import NewEvent
from kesah.eventstore import ConcurrencyError, DuplicateEventError, EventStore, RestoreError, events


def submitted(stream: str | None = None, title: str = "Jalan rusak parah") -> NewEvent:
    stream = stream or str(uuid.uuid4())
    return NewEvent(
        type="ComplaintSubmitted",
        stream_id=stream,
        payload={
            "complaint_id": stream,
            "tracking_code": "ACDE-FHJK",
            "kind": "keluhan",
            "title": title,
            "body": "Jalan di depan rumah rusak parah.",
            "kelurahan": "Api-Api",
            "kecamatan": "Bontang Utara",
            "address": "",
            "visibility": "public",
            "channel": "web",
            "source_id": None,
            "source_url": None,
        },
        event_id=str(uuid.uuid4()),
        occurred_at=contracts.utc_now(),
        correlation_id=stream,
    )


class EventStoreContract:
    @pytest.fixture
    def new_url(self) -> Callable[[], str]:  # pragma: no cover - provided by each adapter
        """A factory of URLs of fresh, empty databases."""
        raise NotImplementedError

    @pytest.fixture
    def url(self, new_url: Callable[[], str]) -> str:
        return new_url()

    @pytest.fixture
    def signer(self) -> signing.Signer:
        return signing.Signer.generate("intake")

    @pytest.fixture
    def store(self, url: str, signer: signing.Signer) -> Iterator[EventStore]:
        store = EventStore(database.create_engine(url), "intake", signer)
        store.create_schema()
        yield store
        store.engine.dispose()

    def append(self, store: EventStore, *new: NewEvent, expected: int | None = None):  # type: ignore[no-untyped-def]
        with store.write() as conn:
            return store.append(conn, list(new), expected_version=expected)

    def test_append_then_read_gives_the_same_events(self, store: EventStore) -> None:
        first, second = submitted(), submitted()
        written = self.append(store, first, second)
        read = list(store.read())
        assert read == written
        assert [e.position for e in read] == [1, 2]
        assert read[0].payload == first.payload
        assert read[0].event_id == first.event_id
        assert read[0].source == "intake"
        assert read[0].version == contracts.LATEST["ComplaintSubmitted"]

    def test_positions_continue_across_appends_and_stream_versions_count_per_stream(self, store: EventStore) -> None:
        stream = str(uuid.uuid4())
        self.append(store, submitted(stream))
        self.append(store, submitted())
        (third,) = self.append(store, submitted(stream), expected=1)
        assert third.position == 3
        assert third.stream_version == 2
        assert [e.stream_version for e in store.read_stream(stream)] == [1, 2]

    def test_each_event_chains_to_the_previous_and_is_signed(self, store: EventStore, signer: signing.Signer) -> None:
        self.append(store, submitted(), submitted())
        self.append(store, submitted())
        ring = signing.Keyring()
        ring.add("intake", signer.public_base64())
        prev = signing.GENESIS_HASH
        for event in store.read():
            assert event.prev_hash == prev
            assert event.computed_hash() == event.hash
            assert ring.verify("intake", event.key_id, event.hash, event.signature) is None
            prev = event.hash
        assert store.head().hash == prev

    def test_expected_version_is_enforced(self, store: EventStore) -> None:
        stream = str(uuid.uuid4())
        self.append(store, submitted(stream), expected=0)
        with pytest.raises(ConcurrencyError):
            self.append(store, submitted(stream), expected=0)
        with pytest.raises(ConcurrencyError):
            self.append(store, submitted(stream), expected=5)
        assert store.count() == 1

    def test_an_event_id_is_stored_once(self, store: EventStore) -> None:
        event = submitted()
        self.append(store, event)
        with pytest.raises(DuplicateEventError):
            self.append(store, event)
        assert store.count() == 1

    def test_an_invalid_payload_is_refused_before_it_is_stored(self, store: EventStore) -> None:
        bad = submitted()
        bad.payload["kind"] = "protes"
        with pytest.raises(contracts.ContractError):
            self.append(store, bad)
        assert store.count() == 0

    def test_a_failed_transaction_leaves_neither_event_nor_outbox_row(self, store: EventStore) -> None:
        with pytest.raises(RuntimeError):
            with store.write() as conn:
                store.append(conn, [submitted()])
                raise RuntimeError("crash before commit")
        assert store.count() == 0
        assert store.outbox_size() == 0
        (event,) = self.append(store, submitted())
        assert event.position == 1

    def test_outbox_holds_every_event_until_published(self, store: EventStore) -> None:
        self.append(store, submitted(), submitted(), submitted())
        pending = store.pending(2)
        assert [e.position for e in pending] == [1, 2]
        store.mark_published([1, 2])
        assert [e.position for e in store.pending(10)] == [3]
        assert store.outbox_size() == 1

    def test_tracking_rows_make_handling_idempotent(self, store: EventStore) -> None:
        event_id = str(uuid.uuid4())
        with store.write() as conn:
            assert not store.handled(conn, "routing", event_id)
            store.record_handled(conn, "routing", event_id)
        with store.write() as conn:
            assert store.handled(conn, "routing", event_id)
            assert not store.handled(conn, "publicview", event_id)

    def test_reading_in_pages_and_after_a_position(self, store: EventStore) -> None:
        for _ in range(7):
            self.append(store, submitted())
        assert [e.position for e in store.read(after=2, page=2)] == [3, 4, 5, 6, 7]
        assert [e.position for e in store.read(after=0, limit=3, page=2)] == [1, 2, 3]
        assert [e.position for e in store.events_after(5, 10)] == [6, 7]

    def test_a_store_without_key_cannot_append(self, store: EventStore) -> None:
        reader = EventStore(store.engine, "intake", None)
        with pytest.raises(RuntimeError):
            self.append(reader, submitted())

    def test_concurrent_appends_get_gap_free_positions_in_commit_order(self, store: EventStore) -> None:
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for _ in range(25):
                    self.append(store, submitted())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        read = list(store.read())
        assert [e.position for e in read] == list(range(1, 101))
        prev = signing.GENESIS_HASH
        for event in read:
            assert event.prev_hash == prev
            prev = event.hash

    def test_a_reader_never_sees_a_gap_that_is_filled_later(self, store: EventStore) -> None:
        """A catch-up reader that saw position n has seen every position below n."""
        done = threading.Event()
        problems: list[str] = []

        def writer() -> None:
            try:
                for _ in range(150):
                    self.append(store, submitted())
            finally:
                done.set()

        def reader() -> None:
            while not done.is_set():
                with database.reading(store.engine) as conn:
                    positions = [r[0] for r in conn.execute(sa.select(events.c.position).order_by(events.c.position))]
                if positions != list(range(1, len(positions) + 1)):
                    problems.append(f"gap in {positions[:5]}...")

        threads = [threading.Thread(target=writer), threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert problems == []
        assert store.count() == 300

    def test_restore_copies_events_verbatim_and_is_safe_to_rerun(
        self, store: EventStore, new_url: Callable[[], str]
    ) -> None:
        self.append(store, submitted(), submitted(), submitted())
        original = list(store.read())
        target = EventStore(database.create_engine(new_url()), "intake", None)
        target.create_schema()
        try:
            assert target.restore(original[:2]) == 2
            assert target.restore(original) == 1  # the first two are already there
            assert list(target.read()) == original
            assert target.outbox_size() == 0
            tampered = original[2].to_message()
            tampered["payload"] = {**tampered["payload"], "title": "Diubah orang"}
            from kesah.contracts import RecordedEvent

            with pytest.raises(RestoreError):
                target.restore([RecordedEvent(**tampered)])
            gap = original[2].to_message()
            with pytest.raises(RestoreError):
                fresh = EventStore(database.create_engine(new_url()), "intake", None)
                fresh.create_schema()
                fresh.restore([RecordedEvent(**gap)])
        finally:
            target.engine.dispose()
