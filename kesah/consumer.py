"""Receiving events in a nameko service: the inbox entrypoint.

``@inbox("routing")`` consumes the service's durable quorum queue (declared
in kesah.broker). A handler:

- returns normally: the message is acked (after the handler's transaction
  committed, since the handler commits before it returns);
- raises ``Rejected``: the message is dead-lettered with the reason and
  acked, so a forged or malformed event never loops and never reaches state;
- raises anything else: the message is requeued; after the queue's delivery
  limit the broker dead-letters it (a poison event cannot loop forever).

Handlers are idempotent by their tracking rows (EventStore.handled), so a
redelivery changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import eventlet
from nameko.amqp.publish import Publisher
from nameko.messaging import Consumer

from . import broker
from .database import transient
from .contracts import ContractError, RecordedEvent, check_event, utc_now
from .signing import Keyring

log = logging.getLogger("kesah.consumer")

REASON_HEADER = "x-kesah-reason"
DEAD_LETTERED_AT_HEADER = "x-kesah-dead-lettered-at"


class Rejected(Exception):
    """The event must not be handled: it goes to the dead-letter queue."""


def accept(body: Any, keyring: Keyring | None) -> RecordedEvent:
    """Parse and check a received event; Rejected with the reason otherwise."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            raise Rejected("body is not JSON") from None
    try:
        event = RecordedEvent.from_message(body)
        check_event(event, keyring)
    except ContractError as exc:
        raise Rejected(str(exc)) from None
    return event


class Inbox(Consumer):
    def __init__(self, consumer: str, **kwargs: Any) -> None:
        self.consumer = consumer
        super().__init__(queue=None, requeue_on_error=True, **kwargs)

    def setup(self) -> None:
        config = self.container.config
        self.queue = broker.kombu_inbox(self.consumer, config.get("DELIVERY_LIMIT", 10))
        self.dead_letters = Publisher(config["AMQP_URI"])
        super().setup()

    def handle_message_processed(self, message, result=None, exc_info=None):  # type: ignore[no-untyped-def]
        if exc_info is not None and isinstance(exc_info[1], Rejected):
            reason = str(exc_info[1])
            log.error("dead-lettering %s for %s: %s", message.properties.get("message_id"), self.consumer, reason)
            self.dead_letters.publish(
                message.body,
                exchange=broker.DEAD_LETTER_EXCHANGE,
                routing_key=self.consumer,
                # Our own headers travel on (how often an operator sent it back); the broker's do not.
                headers={**{k: v for k, v in (message.headers or {}).items() if k.startswith("x-kesah-")},
                         REASON_HEADER: reason, DEAD_LETTERED_AT_HEADER: utc_now()},
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                serializer=None,
                declare=[],
            )
            exc_info = None
        elif exc_info is not None and transient(exc_info[1]):
            # The database is away (restarting, out of connections): requeueing at
            # once would burn the delivery limit in a second and dead-letter a
            # good event. Wait, longer each time; the worker slot held meanwhile
            # is the back-pressure.
            deliveries = int((message.headers or {}).get("x-delivery-count") or 0)
            pause = min(2.0 ** deliveries, MAX_BACKOFF_SECONDS)
            log.warning("%s: %s; retrying %s in %.0fs", self.consumer, exc_info[1].__class__.__name__,
                        message.properties.get("message_id"), pause)
            eventlet.sleep(pause)
        super().handle_message_processed(message, result, exc_info)


MAX_BACKOFF_SECONDS = 30.0




inbox = Inbox.decorator
