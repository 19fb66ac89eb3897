"""The operator pages' line to routing: nameko RPC (routing owns rules and routing decisions).

Chosen over writing to routing's store from here: services never import
each other, and routing's decisions stay in one process's code path. The
cost: these pages need RabbitMQ and the routing service; without them they
say so (503) and nothing is half-done.
"""

from __future__ import annotations

from typing import Any

from kesah import config

TIMEOUT_SECONDS = 15


class RoutingUnavailable(Exception):
    """Routing did not answer (broker or service down)."""


class RoutingClient:
    def __init__(self, settings: config.Settings) -> None:
        self.config = settings.nameko_config()

    def call(self, method: str, **kwargs: Any) -> Any:
        from nameko.standalone.rpc import ServiceRpcProxy

        try:
            with ServiceRpcProxy("routing", self.config, timeout=TIMEOUT_SECONDS) as routing:
                return getattr(routing, method)(**kwargs)
        except Exception as exc:  # timeouts, connection errors, remote errors: all mean "not now"
            raise RoutingUnavailable(f"{exc.__class__.__name__}: {exc}") from exc
