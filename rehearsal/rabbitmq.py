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
import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import cluster as clusters
from . import systems
from .load import Load, publication_stall, summary, tally
from .report import Outcome

if TYPE_CHECKING:
    from tests.support.system import System


@dataclass(frozen=True)
class Size:
    workers: int  # citizens submitting at once
    interval: float  # seconds between one citizen's submissions
    before: int  # complaints accepted before the fault
    fault_seconds: float  # how long the node stays dead or cut off
    after: int  # complaints accepted after it is back, before the load stops
    rounds: int  # faults in a row, on whichever node leads then
    net_ticktime: int | None = None  # Erlang's (default 60 s); the small partition shortens it to fit its cut


# Rates the system keeps up with on a shared 2-core machine (~4 and ~8 complaints/s, far above
# Bontang's day): the drill is about the fault, not about a backlog.
SMALL = Size(workers=2, interval=0.5, before=20, fault_seconds=15, after=20, rounds=1)
FULL = Size(workers=4, interval=0.5, before=100, fault_seconds=90, after=100, rounds=3)


def kill_leader(small: bool) -> list[Outcome]:
    def fault(cluster: clusters.Cluster, node: clusters.Node, size: Size, load: Load) -> None:
        cluster.kill(node)
        time.sleep(size.fault_seconds)
        cluster.restart(node)

    return [_drill("rabbitmq-kill-leader", "kill -9", fault, SMALL if small else FULL)]


REJOIN_SECONDS = 90


def partition(small: bool) -> list[Outcome]:
    def fault(cluster: clusters.Cluster, node: clusters.Node, size: Size, load: Load) -> str | None:
        cluster.partition(node)
        time.sleep(size.fault_seconds)
        cluster.heal(node)
        # pause_minority: a node that noticed it was cut off rejoins by itself once it sees the others.
        try:
            cluster.wait_clustered(REJOIN_SECONDS)
        except RuntimeError:
            # RabbitMQ 3.10 on Erlang 25 can stay split after the cut heals ("Global hang workaround"
            # in the nodes' logs; seen once in CI): what an operator does is restart the node.
            _say(f"{node.name} did not rejoin within {REJOIN_SECONDS} s of the heal; restarting it")
            cluster.kill(node)
            cluster.restart(node, 180)
            return f"{node.name} did not rejoin by itself within {REJOIN_SECONDS} s of the heal and was restarted"
        return None

    # A cut the nodes notice (longer than the net tick), so pause_minority acts and the clients of the
    # cut-off node must move: a shorter one is only a network hiccup to Erlang.
    size = dataclasses.replace(SMALL, fault_seconds=30, net_ticktime=15) if small else FULL
    return [_drill("rabbitmq-partition", "cut off", fault, size)]


LOGS = Path(__file__).resolve().parent.parent / "var" / "rehearsal"

Fault = Callable[[clusters.Cluster, clusters.Node, Size, Load], "str | None"]  # a remark for the note


def _drill(name: str, verb: str, fault: Fault, size: Size) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix=f"kesah-rehearsal-{name}-"))
    try:
        started = time.monotonic()
        with clusters.Cluster(net_ticktime=size.net_ticktime) as cluster:
            _say(f"cluster of {len(cluster.nodes)} up in {time.monotonic() - started:.0f} s ({cluster.subnet}.0/24)")
            system = systems.make_system(work / "system", vhost="/", extra_env={"KESAH_AMQP_URI": cluster.uri})
            outcome = None
            try:
                system.start()
                outcome = _under_load(name, verb, fault, size, cluster, system)
                return outcome
            finally:
                system.close()
                if outcome is None or not outcome.ok:
                    _keep_logs(name, work / "system" / "logs", cluster)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _under_load(name: str, verb: str, fault: Fault, size: Size, cluster: clusters.Cluster,
                system: "System") -> Outcome:
    replicas = _replicas(cluster)
    load = Load(str(system.http.base_url), workers=size.workers, interval=size.interval).start()
    notes: list[str] = []
    try:
        for _ in range(size.rounds):
            load.wait_for(size.before, timeout=120)
            node = _busiest_leader(cluster)
            clients = _connections(cluster).get(node.name, 0)
            began = time.monotonic()
            _say(f"{verb} {node.name} (leads the most inboxes; {clients} client connections)")
            remark = fault(cluster, node, size, load)
            took = time.monotonic() - began
            moved = _leaders_elsewhere(cluster, node)
            _say(f"{node.name} back after {took:.0f} s; {moved}")
            notes.append(f"{verb} {node.name} with {clients} client connections, back after {took:.0f} s, {moved}")
            if remark:
                notes.append(remark)
            load.wait_for(size.after, timeout=120)
    finally:
        load.stop()
    stopped = time.monotonic()
    _say(f"load stopped: {len(load.accepted)} accepted; counting")
    outcome = tally(name, system, load)
    notes.append(f"public site stood still at most {publication_stall(system, load):.0f} s")
    if outcome.visible == outcome.accepted:
        notes.append(f"all visible {time.monotonic() - stopped:.0f} s after the load stopped")
    missing = _missing_from_archive(system, load.accepted)
    if missing:
        outcome.problems.append(f"{len(missing)} accepted complaints missing from the archive stream, "
                                f"e.g. {', '.join(sorted(missing)[:5])}")
    else:
        notes.append("every accepted complaint in the archive stream")
    outcome.note = "; ".join(notes + [replicas, _statuses(load)])
    return outcome


def _keep_logs(name: str, service_logs: Path, cluster: clusters.Cluster) -> None:
    """A failed drill's evidence outlives its temp dirs: the services' and the nodes' logs."""
    target = LOGS / f"logs-{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    try:
        if service_logs.exists():
            shutil.copytree(service_logs, target / "services")
        for node in cluster.nodes:
            if (node.base / "log").exists():
                shutil.copytree(node.base / "log", target / node.name.replace("@", "-"))
        _say(f"logs kept in {target}")
    except OSError as exc:
        _say(f"could not keep the logs ({exc})")


def _say(line: str) -> None:
    print(f"   {time.strftime('%H:%M:%S')} {line}", flush=True)


def _connections(cluster: clusters.Cluster) -> dict[str, int]:
    """Client connections per node (the services' consumers, publishers, RPC)."""
    return dict(collections.Counter(c["node"] for c in cluster.api("/api/connections?columns=node", patience=30)))


def _leaders_elsewhere(cluster: clusters.Cluster, node: clusters.Node) -> str:
    """Where the inboxes are led now (while a node was away, the others elected new leaders)."""
    leaders = {q: l for q, l in cluster.leaders().items() if q.endswith(".inbox")}
    still = sorted(q for q, leader in leaders.items() if leader == node.name)
    return f"{len(leaders) - len(still)} of {len(leaders)} inboxes led elsewhere now"


def _missing_from_archive(system: "System", codes: list[str]) -> set[str]:
    """Accepted complaints whose ComplaintSubmitted the broker's archive stream does not hold."""
    from kesah import archive

    archived = {e.payload.get("tracking_code") for e in archive.events(system.settings, "first", source="intake")
                if e.type == "ComplaintSubmitted"}
    return set(codes) - archived


def _busiest_leader(cluster: clusters.Cluster) -> clusters.Node:
    """The node leading the most quorum inboxes, and of those the one most clients use: the worst to lose."""
    leaders = collections.Counter(
        leader for queue, leader in cluster.leaders().items() if queue.endswith(".inbox") and leader)
    if not leaders:
        raise RuntimeError("no quorum inbox has a leader: did the services declare their topology?")
    connections = _connections(cluster)
    return cluster.node_named(max(leaders, key=lambda node: (leaders[node], connections.get(node, 0))))


def _replicas(cluster: clusters.Cluster) -> str:
    """How many nodes hold each inbox and the archive (they are declared by the services, on all nodes)."""
    deadline = time.monotonic() + 30
    while True:
        members = {queue: len(cluster.members(queue)) for queue in cluster.leaders()}
        inboxes = [n for q, n in members.items() if q.endswith(".inbox")]
        # A stream's members show once the broker has emitted its statistics (every 5 s).
        if (len(inboxes) == 4 and members.get("kesah.archive")) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return (f"replicas: inboxes {min(inboxes, default=0)}-{max(inboxes, default=0)} nodes, "
            f"archive {members.get('kesah.archive', 0)}")


def _statuses(load: Load) -> str:
    statuses = summary(load)["statuses"]
    return "answers: " + ", ".join(f"{status or 'none'} x{n}" for status, n in sorted(statuses.items()))
