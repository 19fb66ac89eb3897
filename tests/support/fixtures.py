"""The running system as pytest fixtures (``system``, ``make_system``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from kesah.config import SERVICES
from tests.support.system import System


def stores_on_postgres() -> bool:
    return os.environ.get("KESAH_TEST_STORES", "sqlite") == "postgres"


@pytest.fixture
def make_system(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_vhost: Callable[[], str],
    make_pg_database: Callable[[], str],
) -> Iterator[Callable[..., System]]:
    made: list[System] = []

    def make(postgres: bool | None = None, **kwargs) -> System:  # type: ignore[no-untyped-def]
        """A System; ``postgres=True`` puts its stores on PostgreSQL whatever KESAH_TEST_STORES says."""
        on_postgres = stores_on_postgres() if postgres is None else postgres
        urls = {s: make_pg_database() for s in SERVICES} if on_postgres else None
        system = System(tmp_path / f"system{len(made)}", make_vhost(), urls, **kwargs)
        made.append(system)
        return system

    yield make
    failed = getattr(request.node, "report_call", None)
    for system in made:
        system.close()
        if failed is not None and failed.failed:
            for name in system.supervisor.started:
                tail = system.logs(name)[-3000:]
                if tail:
                    print(f"\n----- {name} log (tail) -----\n{tail}")


@pytest.fixture
def system(make_system: Callable[..., System]) -> System:
    return make_system().start()


def module_system(tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None) -> Iterator[System]:
    """A started system for every test of a module, with its own vhost (and databases), removed afterwards."""
    from tests.support import services

    vhost = services.create_vhost()
    databases = [f"kesah_test_{uuid.uuid4().hex[:10]}" for _ in SERVICES] if stores_on_postgres() else []
    for name in databases:
        services.create_pg_database(name)
    urls = {s: services.pg_url(d) for s, d in zip(SERVICES, databases)} or None
    system = System(tmp_path_factory.mktemp("shared-system"), vhost, urls, extra_env)
    try:
        yield system.start()
    finally:
        system.close()
        services.delete_vhost(vhost)
        for name in databases:
            services.drop_pg_database(name)


@pytest.fixture(scope="module")
def shared_system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One started system for all tests of a module: for checks that only read or add."""
    yield from module_system(tmp_path_factory)
