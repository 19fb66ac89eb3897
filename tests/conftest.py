"""Fixtures that give each test run its own slice of the machine's real services.

The broker is shared by every test run on the machine, so every system under
test gets a vhost of its own, deleted afterwards; PostgreSQL tests get a
database of their own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator

import pytest

from tests.support import services

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def make_vhost() -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = services.create_vhost()
        made.append(name)
        return name

    yield make
    for name in made:
        services.delete_vhost(name)


@pytest.fixture
def amqp_uri(make_vhost: Callable[[], str]) -> str:
    return services.amqp_uri(make_vhost())


@pytest.fixture
def make_pg_database() -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = f"kesah_test_{uuid.uuid4().hex[:10]}"
        services.create_pg_database(name)
        made.append(name)
        return services.pg_url(name)

    yield make
    for name in made:
        services.drop_pg_database(name)


@pytest.fixture
def pg_url(make_pg_database: Callable[[], str]) -> str:
    return make_pg_database()


def pytest_report_header(config: pytest.Config) -> str:
    return f"kesah stores: {os.environ.get('KESAH_TEST_STORES', 'sqlite')}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    # Lets fixtures see whether the test failed (to print the system's logs).
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
