"""The dead-letter queues: what a consumer would not or could not handle.

Two ways in to ``<consumer>.dead-letter``:

- the consumer rejected the event (bad envelope, schema, hash, signature or
  owner): the reason is in the header ``x-kesah-reason``;
- the handler failed on every delivery until the inbox's delivery limit, and
  the broker moved it: the reason is in the broker's ``x-death`` header.

An operator lists them, looks at one, sends it back to its consumer's inbox
once the cause is fixed (redrive), or drops it (a forged event, kept until
someone looked). Looking takes messages from the queue without
acknowledging them; closing the channel puts them back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import pika

from . import broker
from .consumer import DEAD_LETTERED_AT_HEADER, REASON_HEADER

REDRIVEN_HEADER = "x-kesah-redriven"
# Headers that describe a past death, dropped when a message is sent back.
_PAST = (REASON_HEADER, DEAD_LETTERED_AT_HEADER, "x-death", "x-first-death-exchange", "x-first-death-queue",
         "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
         "x-delivery-count")


def consumers() -> list[str]:
    return list(broker.SUBSCRIPTIONS)


@dataclass
class DeadLetter:
    consumer: str
    id: str
    reason: str
    at: str | None
    body: bytes
    headers: dict[str, Any]
    properties: pika.BasicProperties
    delivery_tag: int
    event: dict[str, Any] = field(default_factory=dict)

    @property
    def event_type(self) -> str | None:
        return self.event.get("type")

    def where(self) -> str:
        if "source" in self.event and "position" in self.event:
            return f"{self.event['source']}@{self.event['position']}"
        return "-"

    def to_json(self, with_body: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"consumer": self.consumer, "id": self.id, "type": self.event_type,
                                "where": self.where(), "reason": self.reason, "at": self.at}
        if with_body:
            data["headers"] = {k: _plain(v) for k, v in self.headers.items()}
            data["body"] = self.event or self.body.decode("utf-8", "replace")
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def reason_of(headers: dict[str, Any]) -> str:
    if headers.get(REASON_HEADER):
        return _plain(headers[REASON_HEADER])
    deaths = headers.get("x-death") or []
    if deaths:
        death = _plain(deaths[0])
        why = death.get("reason", "unknown")
        queue = death.get("queue", "?")
        if why == "delivery_limit":
            return f"its handler failed on every delivery: the delivery limit of {queue} was reached"
        return f"dead-lettered by the broker from {queue} ({why})"
    return "no reason recorded"


def _when(headers: dict[str, Any], properties: pika.BasicProperties) -> str | None:
    if headers.get(DEAD_LETTERED_AT_HEADER):
        return _plain(headers[DEAD_LETTERED_AT_HEADER])
    deaths = headers.get("x-death") or []
    if deaths and deaths[0].get("time") is not None:
        moment = deaths[0]["time"]
        if isinstance(moment, dt.datetime):
            return moment.replace(tzinfo=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def identify(body: bytes, properties: pika.BasicProperties) -> tuple[str, dict[str, Any]]:
    """The event id when the body is an event; else the message id; else a digest of the body."""
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if isinstance(event, dict) and isinstance(event.get("event_id"), str):
        return event["event_id"], event
    if properties.message_id:
        return str(properties.message_id), event if isinstance(event, dict) else {}
    return "sha-" + hashlib.sha256(body).hexdigest()[:16], event if isinstance(event, dict) else {}


class DeadLetters:
    """A connection to the broker for looking at and moving dead letters."""

    def __init__(self, amqp_uri: str, delivery_limit: int) -> None:
        self.connection = broker.connect(amqp_uri, name="kesah-dlq")
        self.delivery_limit = delivery_limit
        channel = self.connection.channel()
        broker.declare_topology(channel, delivery_limit)
        channel.close()

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def __enter__(self) -> "DeadLetters":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self, channel: Any, consumer: str, limit: int) -> Iterator[DeadLetter]:
        """Messages of a dead-letter queue, unacknowledged (they return when the channel closes)."""
        queue = broker.dead_letter_queue(consumer)
        for _ in range(limit):
            method, properties, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return
            headers = dict(properties.headers or {})
            letter_id, event = identify(body, properties)
            yield DeadLetter(consumer, letter_id, reason_of(headers), _when(headers, properties), body, headers,
                             properties, method.delivery_tag, event)

    def list(self, only: Sequence[str] | None = None, limit: int = 10000) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for consumer in only or consumers():
            channel = self.connection.channel()
            try:
                letters.extend(self._take(channel, consumer, limit))
            finally:
                channel.close()  # puts every message back
        return letters

    def redrive(self, ids: Sequence[str] | None, only: Sequence[str] | None = None) -> list[DeadLetter]:
        """Send the chosen dead letters (all when ``ids`` is None) back to their consumer's inbox."""
        return self._move(ids, only, redrive=True)

    def drop(self, ids: Sequence[str], only: Sequence[str] | None = None) -> list[DeadLetter]:
        return self._move(ids, only, redrive=False)

    def _move(self, ids: Sequence[str] | None, only: Sequence[str] | None, redrive: bool) -> list[DeadLetter]:
        wanted = None if ids is None else set(ids)
        moved: list[DeadLetter] = []
        for consumer in only or consumers():
            channel = self.connection.channel()
            channel.confirm_delivery()
            try:
                for letter in list(self._take(channel, consumer, 10000)):
                    if wanted is not None and letter.id not in wanted:
                        continue
                    if redrive:
                        self._send_back(channel, letter)
                    channel.basic_ack(letter.delivery_tag)
                    moved.append(letter)
            finally:
                channel.close()  # what was not moved goes back
        return moved

    def _send_back(self, channel: Any, letter: DeadLetter) -> None:
        headers = {k: v for k, v in letter.headers.items() if k not in _PAST}
        headers[REDRIVEN_HEADER] = int(letter.headers.get(REDRIVEN_HEADER) or 0) + 1
        p = letter.properties
        # The default exchange routes by queue name: only this consumer's inbox gets it again.
        channel.basic_publish(
            "", broker.inbox_queue(letter.consumer), letter.body,
            pika.BasicProperties(content_type=p.content_type, content_encoding=p.content_encoding,
                                 delivery_mode=2, message_id=p.message_id, type=p.type, headers=headers),
            mandatory=True,
        )
