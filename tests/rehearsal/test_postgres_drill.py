"""The PostgreSQL failover drill at CI size: a primary killed under load, its replica promoted, nothing lost.

The drill builds its own primary and replica (temp dir, ports of their own),
vhost and system, and removes them whatever happens; see rehearsal/postgres.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rehearsal.postgres import failover
from rehearsal.report import table

pytestmark = pytest.mark.postgres


def test_a_killed_primary_loses_no_accepted_complaint() -> None:
    before = set(Path("/tmp").glob("kesah-pg-failover-*"))
    outcomes = failover(small=True)
    assert outcomes and all(o.ok for o in outcomes), "\n" + table(outcomes)
    # Every submission was answered: 201, or 503 while no server took writes; never a 500, never silence.
    answers = re.search(r"answers ([^;]*);", outcomes[0].note).group(1)  # type: ignore[union-attr]
    assert {status for status, _ in (pair.split(": ") for pair in answers.split(", "))} <= {"201", "503"}, \
        "\n" + table(outcomes)
    assert set(Path("/tmp").glob("kesah-pg-failover-*")) <= before, "the drill left its cluster behind"
