"""Reading the broker's archive: the ``kesah.archive`` stream, every event ever relayed.

``events(settings, start)`` consumes the stream from its first offset, from
an offset, or from a time, and ends once it has caught up with the stream as
it stood when the read began. A stream has no "end" a consumer is told
about, and AMQP 0-9-1 does not give its last offset (the management API's
count is a stale statistic), so the reader first appends a *mark* to the
stream (a tiny non-event message with a fresh id, published with a confirm)
and reads until it meets that mark: everything the broker had accepted
before is before the mark, whatever the load, and no idle timeout guesses
when the stream is done. Readers skip marks (and anything else that is not
an event); they cost a few bytes per read, and reads are rare operator work.

Stream consumers need a prefetch and manual acks; the reader acknowledges
what it took (``multiple``) before it cancels, so nothing is left
unacknowledged in pika's buffer (a stream cannot requeue).

Messages are returned as the relay published them: a forged event sent
straight to an events exchange is archived too, so callers check what they
take (signature, chain) — ``kesah restore`` does.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import uuid
from typing import Any, Deque, Iterator

import pika

from . import broker, config, contracts
from .contracts import RecordedEvent

log = logging.getLogger("kesah.archive")

MARK_TYPE = "kesah.archive-mark"
PREFETCH = 1000
ACK_EVERY = 250
WAIT_SECONDS = 1.0

Start = Any  # "first" | an offset (int) | a datetime


def stream_offset(start: Start) -> Any:
    """The ``x-stream-offset`` argument for a start: "first", an offset, or a moment."""
    if start == "first":
        return "first"
    if isinstance(start, bool):
        raise ValueError("an archive start is 'first', an offset or a time")
    if isinstance(start, int):
        if start < 0:
            raise ValueError("an archive offset is 0 or more")
        return start
    if isinstance(start, dt.datetime):
        # The broker reads a timestamp in whole seconds, UTC.
        return start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)
    raise ValueError("an archive start is 'first', an offset or a time")


def _decode(body: bytes) -> RecordedEvent | None:
    """The event in a message, or None (a mark, or something that is no event at all)."""
    try:
        return RecordedEvent.from_message(json.loads(body))
    except (ValueError, contracts.ContractError):
        return None


class _Reader:
    """One pass over the stream on its own connection."""

    def __init__(self, settings: config.Settings, start: Start) -> None:
        self.offset = stream_offset(start)
        self.connection = broker.connect(settings.amqp_uri, name="kesah-archive-reader", timeout=10.0)
        self.channel = self.connection.channel()
        broker.declare_topology(self.channel, settings.delivery_limit)
        self.buffer: Deque[tuple[int, pika.BasicProperties, bytes]] = collections.deque()
        self.unacked = 0
        self.last_tag = 0
        self.tag: str | None = None

    def mark(self, mark_id: str | None = None) -> str:
        """Append a mark to the stream (confirmed) and return its id."""
        mark_id = mark_id or str(uuid.uuid4())
        channel = self.connection.channel()
        try:
            channel.confirm_delivery()
            channel.basic_publish(
                "", broker.ARCHIVE_QUEUE, json.dumps({"mark": mark_id}).encode("ascii"),
                pika.BasicProperties(type=MARK_TYPE, message_id=mark_id, delivery_mode=2), mandatory=True,
            )
        finally:
            channel.close()
        return mark_id

    def mark_at_offset(self) -> tuple[str, int]:
        """Append a mark and learn the offset the stream gave it.

        A probe consumer attached at "next" before the mark is published
        receives the mark (and whatever else arrives meanwhile), with its offset.
        """
        channel = self.connection.channel()
        found: list[int] = []
        last_tag = 0
        mark_id = str(uuid.uuid4())  # known before it is published: the probe may see it during the confirm

        def on_message(_channel: Any, method: Any, properties: pika.BasicProperties, _body: bytes) -> None:
            nonlocal last_tag
            last_tag = method.delivery_tag
            if properties.message_id == mark_id and not found:
                found.append(int((properties.headers or {})["x-stream-offset"]))

        channel.basic_qos(prefetch_count=PREFETCH)
        tag = channel.basic_consume(broker.ARCHIVE_QUEUE, on_message, arguments={"x-stream-offset": "next"})
        self.mark(mark_id)
        while not found:
            self.connection.process_data_events(time_limit=WAIT_SECONDS)
        channel.basic_ack(last_tag, multiple=True)
        channel.basic_cancel(tag)
        channel.close()
        return mark_id, found[0]

    def _on_message(self, _channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        self.buffer.append((method.delivery_tag, properties, body))

    def consume(self) -> None:
        self.channel.basic_qos(prefetch_count=PREFETCH)
        self.tag = self.channel.basic_consume(broker.ARCHIVE_QUEUE, self._on_message, auto_ack=False,
                                              arguments={"x-stream-offset": self.offset})

    def next(self) -> tuple[pika.BasicProperties, bytes]:
        while not self.buffer:
            self.connection.process_data_events(time_limit=WAIT_SECONDS)
        tag, properties, body = self.buffer.popleft()
        self.last_tag = tag
        self.unacked += 1
        if self.unacked >= ACK_EVERY:
            self.ack()
        return properties, body

    def ack(self) -> None:
        if self.unacked:
            self.channel.basic_ack(self.last_tag, multiple=True)
            self.unacked = 0

    def close(self) -> None:
        try:
            if self.connection.is_open:
                # Everything delivered is acknowledged before the cancel: a stream cannot take it back.
                while self.buffer:
                    self.last_tag = self.buffer.popleft()[0]
                    self.unacked += 1
                self.ack()
                if self.tag is not None:
                    self.channel.basic_cancel(self.tag)
                self.connection.close()
        except Exception:  # closing a broken connection: nothing left to save
            log.debug("closing the archive reader failed", exc_info=True)


def events(settings: config.Settings, start: Start = "first", *,
           source: str | None = None) -> Iterator[RecordedEvent]:
    """Every event archived from ``start`` until the stream as it stood when the read began.

    ``start``: "first", a stream offset, or a datetime (the broker starts at
    the first chunk written at or after it, so a few events just before it
    may come too). ``source``: only that owner's events. Events come in the
    order the broker received them; a batch the relay published twice comes
    twice (same event id). Not verified: check what you take.
    """
    reader = _Reader(settings, start)
    try:
        if isinstance(reader.offset, int):
            # A consumer told to start beyond the end waits for that offset: learn where the end is first.
            mark_id, end = reader.mark_at_offset()
            if reader.offset > end:
                return
            reader.consume()
        else:
            # Attached first, so a time beyond the end (where the broker attaches at the end) meets the mark.
            reader.consume()
            mark_id = reader.mark()
        while True:
            properties, body = reader.next()
            if properties.type == MARK_TYPE:
                if properties.message_id == mark_id:
                    return
                continue
            event = _decode(body)
            if event is None:
                log.warning("archive: skipped a message that is not an event (message id %s)", properties.message_id)
                continue
            if source is None or event.source == source:
                yield event
    finally:
        reader.close()
