"""nameko's RPC queues on the real broker: a service's request queue is a quorum queue, a reply queue
transient, so neither depends on one node of a cluster (kesah/rpc.py; the broker drills prove the rest)."""

from __future__ import annotations

from typing import Callable

import pika

from kesah import broker, rpc
from tests.support import services


def test_a_classic_request_queue_of_an_older_version_is_replaced_by_a_quorum_queue(
        make_vhost: Callable[[], str]) -> None:
    vhost = make_vhost()
    uri = services.amqp_uri(vhost)
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    connection.channel().queue_declare("rpc-routing", durable=True)  # what nameko itself declares
    connection.close()
    assert services.queue_info(vhost, "rpc-routing")["type"] == "classic"

    assert rpc.replace_classic_request_queue(uri, "routing") is True
    assert services.queue_info(vhost, "rpc-routing")["type"] == "quorum"
    assert rpc.replace_classic_request_queue(uri, "routing") is False  # already right: left alone


def test_the_broker_being_away_does_not_stop_a_service_from_starting() -> None:
    assert rpc.replace_classic_request_queue("amqp://guest:guest@127.0.0.1:1/%2F", "routing") is False


def test_nameko_declares_the_request_queue_quorum_and_the_reply_queue_transient() -> None:
    routing, publicview = _Container("routing"), _Container("publicview")  # held: nameko keeps weak references
    consumer = rpc.QuorumRpcConsumer().bind(routing)
    consumer.setup()
    assert consumer.queue.name == "rpc-routing" and consumer.queue.durable
    assert consumer.queue.queue_arguments == {"x-queue-type": "quorum"}
    listener = rpc.TransientReplyListener().bind(publicview)
    listener.setup()
    assert listener.queue.name.startswith("rpc.reply-publicview-") and not listener.queue.durable
    assert "x-expires" in listener.queue.queue_arguments


class _Container:
    """The little of a nameko container that the extensions' setup reads."""

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.config = {"AMQP_URI": "amqp://x", "serializer": "json"}
        self.shared_extensions: dict = {}
