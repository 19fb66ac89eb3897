from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable

import pytest

from .eventstore_contract import EventStoreContract


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture
    def new_url(self, tmp_path: Path) -> Callable[[], str]:
        counter = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'store{next(counter)}.db'}"
