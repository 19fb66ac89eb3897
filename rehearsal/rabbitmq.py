"""Broker drills: the system on a 3-node RabbitMQ cluster, one node killed or cut off under load.

- ``rabbitmq-kill-leader``: kill -9 the node that leads the most quorum
  inboxes while citizens submit, keep submitting, bring the node back.
- ``rabbitmq-partition``: cut the same kind of node off from the other nodes
  and from every client (its veth down), keep submitting, heal.

The services are given every node (``KESAH_AMQP_URI`` with ';'), as a
Kubernetes Service would give them one name for all. Stores are SQLite: the
drill is about the broker. Each outcome's note says which node, how long
the fault lasted and how the quorum inboxes and the archive stream were
replicated.
"""

from __future__ import annotations

import collections
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import cluster as clusters
from .load import Load, summary, tally
from .report import Outcome


@dataclass(frozen=True)
class Size:
    workers: int  # citizens submitting at once
    interval: float  # seconds between one citizen's submissions
    before: int  # complaints accepted before the fault
    fault_seconds: float  # how long the node stays dead or cut off
    after: int  # complaints accepted after it is back, before the load stops
    rounds: int  # faults in a row, on whichever node leads then


SMALL = Size(workers=2, interval=0.2, before=20, fault_seconds=15, after=20, rounds=1)
FULL = Size(workers=4, interval=0.1, before=200, fault_seconds=90, after=200, rounds=3)


def kill_leader(small: bool) -> list[Outcome]:
    def fault(cluster: clusters.Cluster, node: clusters.Node, size: Size, load: Load) -> None:
        cluster.kill(node)
        time.sleep(size.fault_seconds)
        cluster.restart(node)

    return [_drill("rabbitmq-kill-leader", "kill -9", fault, SMALL if small else FULL)]


def partition(small: bool) -> list[Outcome]:
    def fault(cluster: clusters.Cluster, node: clusters.Node, size: Size, load: Load) -> None:
        cluster.partition(node)
        time.sleep(size.fault_seconds)
        cluster.heal(node)
        # pause_minority: a node that noticed it was cut off rejoins by itself once it sees the others.
        cluster.wait_clustered(180)

    return [_drill("rabbitmq-partition", "cut off", fault, SMALL if small else FULL)]


Fault = Callable[[clusters.Cluster, clusters.Node, Size, Load], None]


def _drill(name: str, verb: str, fault: Fault, size: Size) -> Outcome:
    from tests.support.system import System

    work = Path(tempfile.mkdtemp(prefix=f"kesah-rehearsal-{name}-"))
    try:
        with clusters.Cluster() as cluster:
            system = System(work / "system", vhost="/", extra_env={"KESAH_AMQP_URI": cluster.uri})
            try:
                system.start()
                replicas = _replicas(cluster)
                load = Load(str(system.http.base_url), workers=size.workers, interval=size.interval).start()
                faults = []
                try:
                    for _ in range(size.rounds):
                        load.wait_for(size.before, timeout=120)
                        node = _busiest_leader(cluster)
                        started = time.monotonic()
                        fault(cluster, node, size, load)
                        faults.append(f"{verb} {node.name} ({time.monotonic() - started:.0f} s until back)")
                        load.wait_for(size.after, timeout=120)
                finally:
                    load.stop()
                outcome = tally(name, system, load)
                outcome.note = "; ".join(faults + [replicas, _statuses(load)])
                return outcome
            finally:
                system.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _busiest_leader(cluster: clusters.Cluster) -> clusters.Node:
    """The node leading the most quorum inboxes (the worst one to lose)."""
    leaders = collections.Counter(
        leader for queue, leader in cluster.leaders().items() if queue.endswith(".inbox") and leader)
    if not leaders:
        raise RuntimeError("no quorum inbox has a leader: did the services declare their topology?")
    return cluster.node_named(leaders.most_common(1)[0][0])


def _replicas(cluster: clusters.Cluster) -> str:
    """How many nodes hold each inbox and the archive (they are declared by the services, on all nodes)."""
    deadline = time.monotonic() + 30
    while True:
        members = {queue: len(cluster.members(queue)) for queue in cluster.leaders()}
        inboxes = [n for q, n in members.items() if q.endswith(".inbox")]
        if (len(inboxes) == 4 and "kesah.archive" in members) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return (f"replicas: inboxes {min(inboxes, default=0)}-{max(inboxes, default=0)} nodes, "
            f"archive {members.get('kesah.archive', 0)}")


def _statuses(load: Load) -> str:
    statuses = summary(load)["statuses"]
    return "answers: " + ", ".join(f"{status or 'none'} x{n}" for status, n in sorted(statuses.items()))
