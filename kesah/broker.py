"""RabbitMQ topology: exchanges, inboxes, dead letters and the stream archive.

The whole topology is declared (idempotently, the same arguments every
time) by every process that publishes events or reads the broker's copies:
the relay on each connection, before its first publish; ``kesah dlq``; the
archive reader. Events reach an exchange only through the relay, so no event
is ever published before the queues that must hold it exist, whichever
process starts first: an event sent to an exchange with no queue is dropped.
A nameko worker declares only its own inbox and its bindings (kombu).

- ``<owner>.events``: a topic exchange per owning service, the name nameko
  gives it; the routing key is the event type.
- ``<consumer>.inbox``: one durable quorum queue per consuming service, bound
  to every event it needs. A message is redelivered when its handler fails,
  up to a delivery limit; then the broker dead-letters it.
- ``kesah.dead-letter``: a direct exchange; ``<consumer>.dead-letter`` holds
  what that consumer rejected, with the reason in the headers.
- ``kesah.archive``: a durable stream bound to every events exchange: the
  broker-side copy of every event, readable from the first offset.
"""

from __future__ import annotations

from typing import Any

OWNERS = ("intake", "routing", "responses")
DEAD_LETTER_EXCHANGE = "kesah.dead-letter"
ARCHIVE_QUEUE = "kesah.archive"

# consumer -> [(source service, routing key)]
SUBSCRIPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    # The reporter may confirm or reopen only an answered, not rejected complaint.
    "intake": (
        ("responses", "ResponsePosted"),
        ("routing", "ComplaintRejected"),
    ),
    # Routing decides, re-decides and watches due dates until the complaint is answered or closed.
    "routing": (
        ("intake", "ComplaintSubmitted"),
        ("intake", "ComplaintClosed"),
        ("intake", "ComplaintReopened"),
        ("responses", "ResponsePosted"),
        ("responses", "RerouteRequested"),
    ),
    # Responses keeps each agency's case file: content, assignment, due date, status.
    "responses": (
        ("intake", "ComplaintSubmitted"),
        ("intake", "ComplaintClosed"),
        ("intake", "ComplaintReopened"),
        ("routing", "ComplaintRouted"),
        ("routing", "ComplaintAwaitingRouting"),
        ("routing", "ComplaintRerouted"),
        ("routing", "ComplaintRejected"),
        ("routing", "ComplaintOverdue"),
        ("routing", "DueDateSet"),
    ),
    "publicview": tuple((owner, "#") for owner in OWNERS),
}


def events_exchange(source: str) -> str:
    return f"{source}.events"


def inbox_queue(consumer: str) -> str:
    return f"{consumer}.inbox"


def dead_letter_queue(consumer: str) -> str:
    return f"{consumer}.dead-letter"


def inbox_arguments(consumer: str, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": consumer,
    }


DEAD_LETTER_ARGUMENTS = {"x-queue-type": "quorum"}
ARCHIVE_ARGUMENTS = {"x-queue-type": "stream"}


def declare_topology(channel: Any, delivery_limit: int) -> None:
    """Declare everything over a pika channel. Safe to call again and again."""
    for owner in OWNERS:
        channel.exchange_declare(events_exchange(owner), exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    for consumer, subscriptions in SUBSCRIPTIONS.items():
        queue = inbox_queue(consumer)
        channel.queue_declare(queue, durable=True, arguments=inbox_arguments(consumer, delivery_limit))
        for source, routing_key in subscriptions:
            channel.queue_bind(queue, events_exchange(source), routing_key)
        dead = dead_letter_queue(consumer)
        channel.queue_declare(dead, durable=True, arguments=DEAD_LETTER_ARGUMENTS)
        channel.queue_bind(dead, DEAD_LETTER_EXCHANGE, consumer)
    channel.queue_declare(ARCHIVE_QUEUE, durable=True, arguments=ARCHIVE_ARGUMENTS)
    for owner in OWNERS:
        channel.queue_bind(ARCHIVE_QUEUE, events_exchange(owner), "#")


def kombu_inbox(consumer: str, delivery_limit: int):  # type: ignore[no-untyped-def]
    """The same inbox as a kombu Queue, for nameko's consumer."""
    from kombu import Exchange, Queue, binding

    bindings = [
        binding(Exchange(events_exchange(source), type="topic", durable=True), routing_key=key)
        for source, key in SUBSCRIPTIONS[consumer]
    ]
    return Queue(
        inbox_queue(consumer),
        bindings=bindings,
        durable=True,
        queue_arguments=inbox_arguments(consumer, delivery_limit),
    )


def connect(amqp_uri: str, *, name: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """A pika blocking connection with the project's settings.

    ``amqp_uri`` may name several nodes of a cluster (``amqp://a;amqp://b``,
    kombu's failover syntax, as nameko reads it): pika tries them in turn,
    from a random one, so a dead or cut-off node costs one connect timeout
    and the processes spread over the nodes.
    """
    import random

    import pika

    uris = [uri for uri in amqp_uri.split(";") if uri]
    start = random.randrange(len(uris))
    candidates = []
    for uri in uris[start:] + uris[:start]:
        params = pika.URLParameters(uri)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = 30
        params.heartbeat = 30
        params.client_properties = {"connection_name": name}
        candidates.append(params)
    return pika.BlockingConnection(candidates if len(candidates) > 1 else candidates[0])


class BrokerCheck:
    """A readiness check: the broker accepts a connection (answer cached a few seconds)."""

    def __init__(self, amqp_uri: str, name: str, cache_seconds: float = 5.0) -> None:
        self.amqp_uri = amqp_uri
        self.name = name
        self.cache_seconds = cache_seconds
        self._checked_at = -1e9
        self._problem: str | None = None

    def __call__(self) -> str | None:
        import time

        now = time.monotonic()
        if now - self._checked_at >= self.cache_seconds:
            try:
                connect(self.amqp_uri, name=self.name, timeout=3.0).close()
                self._problem = None
            except Exception as exc:  # any failure means the same: not reachable
                self._problem = f"broker: {exc.__class__.__name__}"
            self._checked_at = now
        return self._problem
