"""nameko RPC whose queues survive the loss of one broker node.

nameko declares a service's request queue (``rpc-<service>``) and a proxy's
reply queue (``rpc.reply-<service>-<uuid>``) as durable classic queues: each
lives on one node. When that node dies or is cut off, redeclaring the queue
fails (``home node ... is down``), and since one nameko connection carries
every consumer of a service, the service's inbox stops with it until the node
returns (found by the rabbitmq-partition drill, docs/runbook.md).

- the request queue is a quorum queue: replicated like the inboxes, a request
  waiting in it outlives a node;
- a reply queue is transient (still expiring when unused): RabbitMQ deletes
  a transient queue when its node goes down, so the proxy redeclares it on a
  live node. A reply in flight at that moment is lost; the caller times out
  as it does when the callee is down.

A broker that still holds the classic ``rpc-<service>`` of an older version
refuses the quorum declaration; ``replace_classic_request_queue`` swaps it
before the service starts (a request waiting in it is dropped: its caller
timed out long ago or will).
"""

from __future__ import annotations

import logging
from nameko import rpc as nameko_rpc

from . import broker

log = logging.getLogger("kesah.rpc")

REQUEST_QUEUE_ARGUMENTS = {"x-queue-type": "quorum"}


class QuorumRpcConsumer(nameko_rpc.RpcConsumer):
    def setup(self) -> None:
        super().setup()
        self.queue.queue_arguments = dict(REQUEST_QUEUE_ARGUMENTS)


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = QuorumRpcConsumer()


rpc = Rpc.decorator


class TransientReplyListener(nameko_rpc.ReplyListener):
    def setup(self) -> None:
        super().setup()
        self.queue.durable = False


class RpcProxy(nameko_rpc.RpcProxy):
    rpc_reply_listener = TransientReplyListener()


def request_queue(service: str) -> str:
    return nameko_rpc.RPC_QUEUE_TEMPLATE.format(service)


def replace_classic_request_queue(amqp_uri: str, service: str) -> bool:
    """Make ``rpc-<service>`` a quorum queue if an older version left a classic one; True if replaced."""
    import pika.exceptions

    try:
        connection = broker.connect(amqp_uri, name=f"kesah-{service}-rpc-queue")
    except (pika.exceptions.AMQPError, OSError) as exc:
        # nameko waits for the broker anyway; the check runs at the next start
        log.warning("could not check the queue %s (%s)", request_queue(service), exc.__class__.__name__)
        return False
    try:
        try:
            connection.channel().queue_declare(request_queue(service), durable=True,
                                               arguments=REQUEST_QUEUE_ARGUMENTS)
            return False
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:  # PRECONDITION_FAILED: the same name with other arguments
                raise
        channel = connection.channel()
        channel.queue_delete(request_queue(service))
        channel.queue_declare(request_queue(service), durable=True, arguments=REQUEST_QUEUE_ARGUMENTS)
        log.warning("replaced the classic queue %s with a quorum queue", request_queue(service))
        return True
    finally:
        connection.close()

