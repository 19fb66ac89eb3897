"""A throw-away 3-node RabbitMQ cluster on this machine, each node in its own network namespace.

Built from the machine's Debian rabbitmq-server, under a temp dir, apart from
the machine's shared broker in every way: its own node names, ports, epmd
port, Erlang cookie, config, data and logs, and its own network. Each node
sits in a network namespace of its own, joined to a bridge in the root
namespace by a veth pair:

    root namespace: bridge <id>br 10.213.N.1/24  (the services connect from here)
        ├── veth <id>h1 ── namespace <id>n1: 10.213.N.11  rabbit@10.213.N.11
        ├── veth <id>h2 ── namespace <id>n2: 10.213.N.12  rabbit@10.213.N.12
        └── veth <id>h3 ── namespace <id>n3: 10.213.N.13  rabbit@10.213.N.13

Taking a node's host-side veth down partitions that node from the other
nodes and from every client at once, as a cut cable does (no firewall
needed). N is picked per run among subnets no interface uses, and the names
carry a per-run id, so two runs never meet. ``close`` removes it all.

Needs root (network namespaces) and the rabbitmq-server package.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report import CannotRun

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
# Not the shared broker's ports (5672, 15672, 25672, epmd 4369), though each node has its own network anyway.
AMQP_PORT = 5680
MANAGEMENT_PORT = 15680
DIST_PORT = 25680
EPMD_PORT = 4380
USER = "guest"
PASSWORD = "guest"

CONFIG = """\
listeners.tcp.default = {amqp}
management.tcp.port = {management}
# The services connect over the bridge, not the loopback.
loopback_users = none
# Quorum queues and streams already need a majority; a node cut off stops serving
# instead of accepting what the majority will never see.
cluster_partition_handling = pause_minority
# As deploy/k8s/base/rabbitmq.yaml: queue leaders spread over the nodes.
queue_leader_locator = balanced
cluster_formation.peer_discovery_backend = classic_config
{nodes}
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
"""


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True)


@dataclass
class Node:
    index: int
    ip: str
    netns: str
    veth_host: str
    veth_node: str
    base: Path
    process: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"rabbit@{self.ip}"

    @property
    def uri(self) -> str:
        return f"amqp://{USER}:{PASSWORD}@{self.ip}:{AMQP_PORT}/%2F"

    @property
    def management(self) -> str:
        return f"http://{self.ip}:{MANAGEMENT_PORT}"


class Cluster:
    """``with Cluster() as cluster:`` three running, clustered nodes; ``cluster.uri`` for the services."""

    def __init__(self, size: int = 3, net_ticktime: int | None = None) -> None:
        self.size = size
        # Erlang's net tick (default 60 s): how soon a node notices a peer gone silent and
        # pause_minority pauses it. A short one lets a short cut count as a partition.
        self.net_ticktime = net_ticktime
        self.id = "kr" + secrets.token_hex(3)  # interface names are at most 15 characters
        self.dir = Path(tempfile.mkdtemp(prefix=f"kesah-rehearsal-{self.id}-"))
        self.bridge = f"{self.id}br"
        self.subnet = _free_subnet()
        self.cookie = secrets.token_hex(20)
        self.nodes = [
            Node(i, f"{self.subnet}.{10 + i}", f"{self.id}n{i}", f"{self.id}h{i}", f"{self.id}p{i}",
                 self.dir / f"node{i}")
            for i in range(1, size + 1)
        ]
        self._network_made = False

    # --- life -------------------------------------------------------------------------

    def __enter__(self) -> "Cluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self, timeout: float = 120.0) -> None:
        check_can_run()
        self._make_network()
        for node in self.nodes:
            self._write_files(node)
        # The first node forms the cluster; the others find it through classic_config and join.
        self._start_node(self.nodes[0])
        self.wait_running(self.nodes[0], timeout)
        for node in self.nodes[1:]:
            self._start_node(node)
        for node in self.nodes[1:]:
            self.wait_running(node, timeout)
        self.wait_clustered(timeout)

    def close(self) -> None:
        for node in self.nodes:
            self._kill_namespace(node)
        if self._network_made:
            for node in self.nodes:
                _run("ip", "link", "del", node.veth_host, check=False)
                _run("ip", "netns", "del", node.netns, check=False)
            _run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def uri(self) -> str:
        """Every node's URL, kombu's failover syntax (the value of KESAH_AMQP_URI)."""
        return ";".join(node.uri for node in self.nodes)

    # --- faults -----------------------------------------------------------------------

    def kill(self, node: Node) -> None:
        """kill -9 every process of the node (the broker, its epmd): a machine that died."""
        self._kill_namespace(node)
        node.process = None

    def restart(self, node: Node, timeout: float = 120.0) -> None:
        self._start_node(node)
        self.wait_running(node, timeout)
        self.wait_clustered(timeout)

    def partition(self, node: Node) -> None:
        """Cut the node off from the other nodes and from every client."""
        _run("ip", "link", "set", node.veth_host, "down")

    def heal(self, node: Node) -> None:
        _run("ip", "link", "set", node.veth_host, "up")

    # --- looking ----------------------------------------------------------------------

    def api(self, path: str, via: Node | None = None, timeout: float = 10.0, patience: float = 0.0) -> Any:
        """GET the management API of ``via`` (default: the first node that answers).

        ``patience``: seconds to keep asking (the management plugin answers 500 for a while
        after queues were declared, until it has their statistics).
        """
        deadline = time.monotonic() + patience
        while True:
            problems = []
            for node in [via] if via else self.nodes:
                request = urllib.request.Request(node.management + path, headers={
                    "authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()})
                try:
                    with urllib.request.urlopen(request, timeout=timeout) as response:
                        return json.loads(response.read())
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    problems.append(f"{node.name}: {exc}")
            if time.monotonic() > deadline:
                raise ConnectionError("; ".join(problems))
            time.sleep(1.0)

    def leaders(self, via: Node | None = None) -> dict[str, str]:
        """queue name -> node that leads it, for the quorum queues and streams of the default vhost."""
        queues = self.api("/api/queues/%2F?columns=name,type,leader,members", via, patience=0 if via else 30)
        return {q["name"]: q.get("leader", "") for q in queues if q.get("type") in ("quorum", "stream")}

    def members(self, queue: str, via: Node | None = None) -> list[str]:
        info = self.api(f"/api/queues/%2F/{urllib.request.quote(queue, safe='')}", via, patience=0 if via else 30)
        return list(info.get("members") or [])

    def node_named(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def running(self, via: Node) -> set[str]:
        return {n["name"] for n in self.api("/api/nodes?columns=name,running", via, timeout=5) if n.get("running")}

    def wait_running(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited with {node.process.returncode}; see {node.base / 'log'}")
            try:
                if node.name in self.running(node):
                    return
            except ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.name} did not start within {timeout:.0f} s; see {node.base / 'log'}")
            time.sleep(0.5)

    def wait_clustered(self, timeout: float, nodes: list[Node] | None = None) -> None:
        """Until every node (or ``nodes``) sees every one of them running."""
        nodes = nodes or self.nodes
        want = {n.name for n in nodes}
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(want <= self.running(node) for node in nodes):
                    return
            except ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not form within {timeout:.0f} s ({self.dir})")
            time.sleep(0.5)

    # --- setting up -------------------------------------------------------------------

    def _make_network(self) -> None:
        self._network_made = True
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for node in self.nodes:
            _run("ip", "netns", "add", node.netns)
            _run("ip", "link", "add", node.veth_host, "type", "veth", "peer", "name", node.veth_node)
            _run("ip", "link", "set", node.veth_node, "netns", node.netns)
            _run("ip", "link", "set", node.veth_host, "master", self.bridge)
            _run("ip", "link", "set", node.veth_host, "up")
            inside = ("ip", "netns", "exec", node.netns, "ip")
            _run(*inside, "addr", "add", f"{node.ip}/24", "dev", node.veth_node)
            _run(*inside, "link", "set", node.veth_node, "up")
            _run(*inside, "link", "set", "lo", "up")

    def _env(self, node: Node) -> dict[str, str]:
        home = node.base / "home"
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),  # the .erlang.cookie of this cluster, not the machine's
            "RABBITMQ_CONF_ENV_FILE": str(node.base / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.base / "log"),
            "RABBITMQ_PID_FILE": str(node.base / "rabbit.pid"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_USE_LONGNAME": "true",
            "RABBITMQ_NODE_PORT": str(AMQP_PORT),
            "RABBITMQ_DIST_PORT": str(DIST_PORT),
            "ERL_EPMD_PORT": str(EPMD_PORT),
            # Two cores shared with others: no busy-waiting schedulers.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 2:2 +sbwt none +sbwtdcpu none +sbwtdio none",
        }

    def _write_files(self, node: Node) -> None:
        home = node.base / "home"
        home.mkdir(parents=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)
        (node.base / "rabbitmq-env.conf").write_text("# the rehearsal's own: nothing from /etc/rabbitmq\n")
        kernel = f"{{kernel, [{{net_ticktime, {self.net_ticktime}}}]}}" if self.net_ticktime else ""
        (node.base / "advanced.config").write_text(f"[{kernel}].\n")
        (node.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        nodes = "\n".join(f"cluster_formation.classic_config.nodes.{n.index} = {n.name}" for n in self.nodes)
        (node.base / "rabbitmq.conf").write_text(
            CONFIG.format(amqp=AMQP_PORT, management=MANAGEMENT_PORT, nodes=nodes))

    def _start_node(self, node: Node) -> None:
        log = open(node.base / "server.out", "ab")
        node.process = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, str(SERVER)],
            env=self._env(node), cwd=node.base, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def _kill_namespace(self, node: Node) -> None:
        """SIGKILL everything running in the node's namespace (epmd daemonizes out of our process group)."""
        for _ in range(3):
            found = _run("ip", "netns", "pids", node.netns, check=False).stdout.split()
            if not found:
                break
            for pid in found:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            time.sleep(0.2)
        if node.process is not None:
            try:
                node.process.wait(5)
            except subprocess.TimeoutExpired:
                pass


def check_can_run() -> None:
    if os.geteuid() != 0:
        raise CannotRun("the broker drills need root (network namespaces, a bridge, veth pairs)")
    if not SERVER.exists():
        raise CannotRun(f"rabbitmq-server is not installed ({SERVER} missing; apt-get install rabbitmq-server)")
    if shutil.which("ip") is None:
        raise CannotRun("the ip command (iproute2) is missing")


def _free_subnet() -> str:
    """A 10.213.N subnet no interface of the root namespace uses (other runs may hold some)."""
    used = _run("ip", "-o", "-4", "addr", "show", check=False).stdout
    choices = [n for n in range(1, 255) if f" 10.213.{n}." not in used]
    if not choices:
        raise CannotRun("every 10.213.N.0/24 subnet is in use")
    return f"10.213.{random.choice(choices)}"
