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
