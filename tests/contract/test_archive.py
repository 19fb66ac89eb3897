"""The archive reader against the real broker: events relayed by the real relay, read back from the stream."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Iterator

import pika
import pytest

from kesah import archive, broker, config, database, signing
from kesah.eventstore import EventStore
from kesah.relay import ConfirmingPublisher

from .eventstore_contract import submitted


@pytest.fixture
def settings(amqp_uri: str, tmp_path: Path) -> config.Settings:
    return config.load({"KESAH_AMQP_URI": amqp_uri, "KESAH_DATA_DIR": str(tmp_path)})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore(database.create_engine(f"sqlite:///{tmp_path / 'intake.db'}"), "intake",
                       signing.Signer.generate("intake"))
    store.create_schema()
    yield store
    store.engine.dispose()


@pytest.fixture
def publisher(settings: config.Settings) -> Iterator[ConfirmingPublisher]:
    publisher = ConfirmingPublisher(settings.amqp_uri, settings.delivery_limit)
    yield publisher
    publisher.close()


def relay(store: EventStore, publisher: ConfirmingPublisher, count: int) -> list:
    """Append ``count`` complaints and publish them as the relay does."""
    with store.write() as conn:
        recorded = store.append(conn, [submitted() for _ in range(count)])
    publisher.publish(recorded)
    return recorded


def ids(events) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.event_id for e in events]


def test_reads_every_event_from_the_first_offset_with_its_signature_and_ends(
    settings: config.Settings, store: EventStore, publisher: ConfirmingPublisher,
) -> None:
    sent = relay(store, publisher, 30)
    got = list(archive.events(settings))
    assert got == sent  # every field: id, type, version, chain, key id, signature
    assert [e.signature for e in got] == [e.signature for e in sent]
    # A second read (the first left a mark in the stream) gives the same events, marks skipped.
    assert ids(archive.events(settings, "first")) == ids(sent)


def test_reads_from_an_offset_and_nothing_beyond_the_end(
    settings: config.Settings, store: EventStore, publisher: ConfirmingPublisher,
) -> None:
    sent = relay(store, publisher, 10)  # offsets 0..9: nothing was in the stream before
    assert ids(archive.events(settings, 4)) == ids(sent[4:])
    assert ids(archive.events(settings, 0)) == ids(sent)
    assert list(archive.events(settings, 10_000)) == []
    with pytest.raises(ValueError):
        list(archive.events(settings, -1))


def test_reads_from_a_time(settings: config.Settings, store: EventStore, publisher: ConfirmingPublisher) -> None:
    before = relay(store, publisher, 5)
    # The broker keeps a chunk's time in milliseconds and takes a start time in whole seconds.
    moment = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=1)
    while dt.datetime.now(dt.timezone.utc) < moment + dt.timedelta(milliseconds=50):
        time.sleep(0.05)
    after = relay(store, publisher, 5)
    assert ids(archive.events(settings, moment)) == ids(after)
    assert ids(archive.events(settings, moment - dt.timedelta(hours=1))) == ids(before + after)
    assert list(archive.events(settings, dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))) == []


def test_ends_when_caught_up_although_events_keep_coming(
    settings: config.Settings, store: EventStore, publisher: ConfirmingPublisher,
) -> None:
    confirmed = ids(relay(store, publisher, 20))
    stop = threading.Event()

    def keep_publishing() -> None:
        other = ConfirmingPublisher(settings.amqp_uri, settings.delivery_limit)
        try:
            while not stop.is_set():
                confirmed.extend(ids(relay(store, other, 3)))
        finally:
            other.close()

    writer = threading.Thread(target=keep_publishing)
    writer.start()
    try:
        while len(confirmed) < 50:
            time.sleep(0.01)
        before_read = list(confirmed)
        got = ids(archive.events(settings))
        during_read = len(confirmed)
    finally:
        stop.set()
        writer.join()
    # Everything confirmed before the read began is in it, in order; it ended although the stream kept growing.
    assert got[:len(before_read)] == before_read
    assert got == confirmed[:len(got)]
    assert len(got) <= during_read + 3  # at most the one batch confirmed but not yet counted
    assert len(confirmed) > len(before_read)  # the stream did grow meanwhile


def test_skips_what_is_not_an_event_and_filters_by_source(
    settings: config.Settings, store: EventStore, publisher: ConfirmingPublisher,
) -> None:
    sent = relay(store, publisher, 3)
    connection = broker.connect(settings.amqp_uri, name="test")
    channel = connection.channel()
    channel.basic_publish(broker.events_exchange("routing"), "ComplaintRouted", b'{"not": "an event"}',
                          pika.BasicProperties(message_id="junk"))
    channel.basic_publish(broker.events_exchange("routing"), "ComplaintRouted", b"\xff not json")
    connection.close()
    assert ids(archive.events(settings)) == ids(sent)
    assert ids(archive.events(settings, source="intake")) == ids(sent)
    assert list(archive.events(settings, source="routing")) == []
    assert json.loads(json.dumps(sent[0].to_message()))["signature"] == sent[0].signature


def test_restore_without_the_broker_or_publicview_says_so_in_one_sentence(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KESAH_")},
           "KESAH_DATA_DIR": str(tmp_path), "KESAH_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/%2F"}

    def kesah(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kesah", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    assert kesah("keys", "init").returncode == 0
    done = kesah("restore", "intake", "--from", "archive")
    assert done.returncode == 2 and "RabbitMQ does not answer" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    done = kesah("restore", "routing", "--from", "publicview")
    assert done.returncode == 2 and "publicview's database does not exist" in done.stderr, done.stderr
    done = kesah("restore", "publicview", "--from", "archive")
    assert done.returncode == 2 and "invalid choice" in done.stderr, done.stderr
