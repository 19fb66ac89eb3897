"""nameko DependencyProviders: the seam between service methods and I/O."""

from __future__ import annotations

from typing import Any, Callable

from nameko.extensions import DependencyProvider

from . import config


class Resource(DependencyProvider):
    """Builds one object from the settings when the service starts.

    ``factory(settings)`` opens databases, loads keys and so on; every worker
    of the service shares the result (engines pool their own connections).
    """

    def __init__(self, factory: Callable[[config.Settings], Any]) -> None:
        self.factory = factory

    def setup(self) -> None:
        self.value = self.factory(config.load())

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.value


class SelfWatch(DependencyProvider):
    """Runs a service's Watchdog inside its nameko worker and serves its probes.

    ``factory(settings)`` builds the Watchdog. Its rounds run in a green
    thread of the container; /healthz, /readyz and /metrics are served on
    KESAH_HEALTH_PORT by a small eventlet server outside the worker pool.
    """

    def __init__(self, factory: Callable[[config.Settings], Any]) -> None:
        self.factory = factory

    def setup(self) -> None:
        self.settings = config.load()
        self.watchdog = self.factory(self.settings)

    def start(self) -> None:
        from .health import GreenServer

        self.server = GreenServer(self.watchdog.probes(), self.settings.http_host, self.settings.health_port)
        self.container.spawn_managed_thread(self.watchdog.run)

    def stop(self) -> None:
        self.watchdog.stop()
        self.server.stop()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.watchdog
