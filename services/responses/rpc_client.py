"""The portal's line to the services that own what the operator pages change: nameko RPC.

Routing owns rules and routing decisions; intake owns the channel posts that
wait for an operator. Chosen over writing to their stores from here:
services never import each other, and each decision stays in its owner's
code path. The cost: these pages need RabbitMQ and the owner; without them
they say so (503) and nothing is half-done.
"""

from __future__ import annotations

from typing import Any

from kesah import config

TIMEOUT_SECONDS = 15


class ServiceUnavailable(Exception):
    """The service did not answer (broker or service down)."""

    def __init__(self, service: str, problem: str) -> None:
        super().__init__(f"{service}: {problem}")
        self.service = service


class ServiceClient:
    def __init__(self, settings: config.Settings, service: str) -> None:
        self.config = settings.nameko_config()
        self.service = service

    def call(self, method: str, **kwargs: Any) -> Any:
        from nameko.standalone.rpc import ServiceRpcProxy

        try:
            with ServiceRpcProxy(self.service, self.config, timeout=TIMEOUT_SECONDS) as proxy:
                return getattr(proxy, method)(**kwargs)
        except Exception as exc:  # timeouts, connection errors, remote errors: all mean "not now"
            raise ServiceUnavailable(self.service, f"{exc.__class__.__name__}: {exc}") from exc
