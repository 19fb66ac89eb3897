from __future__ import annotations

from typing import Callable

import pytest

from .eventstore_contract import EventStoreContract


@pytest.mark.postgres
class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def new_url(self, make_pg_database: Callable[[], str]) -> Callable[[], str]:
        return make_pg_database
