"""The broker drills at CI size: a real 3-node RabbitMQ cluster, a node killed or cut off under load.

Each drill runs the real system against a cluster of its own (rehearsal/cluster.py:
network namespaces, never the machine's shared broker) and fails when one
accepted complaint is not on the public site, is there twice, or is missing
from the archive stream. The table is the failure message. Needs root (network
namespaces); the cluster, its namespaces and the system are removed even when
the drill fails.
"""

from __future__ import annotations

import pytest

from rehearsal import rabbitmq
from rehearsal.cluster import check_can_run
from rehearsal.report import CannotRun, table

pytestmark = pytest.mark.rehearsal


@pytest.fixture(autouse=True)
def _can_run() -> None:
    try:
        check_can_run()
    except CannotRun as exc:
        pytest.skip(str(exc))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("drill", [rabbitmq.kill_leader, rabbitmq.partition], ids=["kill-leader", "partition"])
def test_a_broker_node_lost_under_load_loses_and_duplicates_nothing(drill) -> None:  # type: ignore[no-untyped-def]
    outcomes = drill(small=True)
    assert outcomes and all(o.accepted > 0 for o in outcomes), table(outcomes)
    assert all(o.ok for o in outcomes), "\n" + table(outcomes)
