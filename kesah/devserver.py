"""``kesah up``: the whole system on one machine, each part in its own process.

The same processes a Kubernetes deployment runs as separate pods: a nameko
worker per service, the outbox relay and the HTTP faces (here behind one
port). The supervisor restarts a part that dies and stops them all cleanly.
The end-to-end tests use the same Supervisor to stop and start single parts.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Mapping, Sequence

from . import config, signing

log = logging.getLogger("kesah.up")

PROCESSES = ("intake", "routing", "responses", "publicview", "relay", "web")
# Processes without an HTTP face serve /healthz, /readyz and /metrics on a port of their own.
WATCHED = ("intake", "routing", "responses", "publicview", "relay")


def default_health_ports(http_port: int) -> dict[str, int]:
    """``kesah up``'s health ports: the HTTP port + 1, + 2, ... (8001 intake ... 8005 relay)."""
    return {name: http_port + 1 + i for i, name in enumerate(WATCHED)}


def part(name: str) -> str:
    """The part a process runs: "routing#2" is a second routing worker (a replica, as in a pod)."""
    return name.partition("#")[0]


def command(name: str) -> list[str]:
    return [sys.executable, "-m", "kesah", "serve", part(name)]


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str],
        names: Sequence[str] = PROCESSES,
        log_dir: Path | None = None,
        health_ports: Mapping[str, int] | None = None,
    ) -> None:
        self.env = dict(env)
        if health_ports is None:
            health_ports = default_health_ports(int(self.env.get("KESAH_HTTP_PORT") or 8000))
        self.health_ports = dict(health_ports)
        self.names = list(names)
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []  # every name ever started, in order
        self._logs: dict[str, IO[bytes]] = {}
        self.stopping = False

    def start(self, name: str | None = None) -> None:
        for n in [name] if name else self.names:
            if n in self.children and self.children[n].poll() is None:
                continue
            out: IO[bytes] | None = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{n}.log", "ab")
                self._logs[n] = out
            env = dict(self.env)
            if n in self.health_ports:
                env["KESAH_HEALTH_PORT"] = str(self.health_ports[n])
            if n not in self.started:
                self.started.append(n)
            self.children[n] = self.spawn(n, env, out)

    def spawn(self, name: str, env: Mapping[str, str], out: IO[bytes] | None) -> subprocess.Popen[bytes]:
        """One part's process (the rehearsal runs it in a container instead)."""
        return subprocess.Popen(
            command(name), env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )

    def stop(self, name: str | None = None, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        names = [name] if name else list(self.children)
        for n in names:
            child = self.children.get(n)
            if child is not None and child.poll() is None:
                child.send_signal(sig)
        deadline = time.monotonic() + timeout
        for n in names:
            child = self.children.get(n)
            if child is None:
                continue
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", n, timeout)
                child.kill()
                child.wait()
            self.children.pop(n, None)
            handle = self._logs.pop(n, None)
            if handle is not None:
                handle.close()

    def kill(self, name: str) -> None:
        """Stop a part the hard way (SIGKILL), as a crash would."""
        self.stop(name, timeout=5.0, sig=signal.SIGKILL)

    def running(self, name: str) -> bool:
        child = self.children.get(name)
        return child is not None and child.poll() is None

    def watch(self, interval: float = 1.0) -> None:
        """Restart parts that died, until stopped."""
        while not self.stopping:
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is not None and not self.stopping:
                    log.error("%s exited with %s; restarting it", name, code)
                    self.children.pop(name)
                    self.start(name)
            time.sleep(interval)


def prepare(settings: config.Settings) -> Path | None:
    """Schemas, keys, agencies' API tokens: what a fresh local install needs. Idempotent."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from . import schema

    for service, changed in schema.migrate(settings, config.SERVICES).items():
        if changed:
            log.info("migrated %s's database (%s)", service, ", ".join(changed))
    created = signing.init_keys(settings.keys_dir, config.OWNERS)
    if created:
        log.info("created signing keys for %s in %s", ", ".join(created), settings.keys_dir)
    tokens_file = settings.data_dir / "agency-tokens.json"
    if tokens_file.exists():
        return None
    from services.responses.store import Responses

    responses = Responses.open(settings)
    from . import reference

    tokens = {a.id: responses.issue_token(a.id) for a in reference.load().agencies}
    fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(tokens, fh, indent=2)
    # The first operator of the agency portal; the operator creates agencies' admins there.
    from services.responses import passwords

    password = passwords.generate("operator", "Operator Diskominfo")
    responses.accounts.create(None, "operator", "Operator Diskominfo", "operator", None, password)
    fd = os.open(settings.data_dir / "operator-password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    responses.store.engine.dispose()
    return tokens_file


def broker_problem(amqp_uri: str) -> str | None:
    from . import broker

    try:
        broker.connect(amqp_uri, name="kesah-up-check", timeout=3).close()
    except Exception as exc:  # any failure means the same to the operator
        return f"RabbitMQ is not reachable at {_safe(amqp_uri)} ({exc.__class__.__name__}: {exc})"
    return None


def _safe(uri: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or 5672}{parts.path}"


def up(settings: config.Settings, env: Mapping[str, str]) -> int:
    problem = broker_problem(settings.amqp_uri)
    if problem:
        print(
            f"{problem}.\nStart it ('rabbitmq-server -detached'), or run 'make up', which starts or installs it.",
            file=sys.stderr,
        )
        return 2
    tokens_file = prepare(settings)
    supervisor = Supervisor(env)

    def on_signal(signum: int, frame: object) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.start()
    print(f"Kesah Etam is starting on http://{settings.http_host}:{settings.http_port}/ (data in {settings.data_dir})")
    if tokens_file:
        print(f"Agency API tokens were written to {tokens_file}; the portal's first login is 'operator' "
              f"with the password in {settings.data_dir / 'operator-password'} (http://{settings.http_host}:"
              f"{settings.http_port}/agency)")
    ports = ", ".join(f"{name} :{port}" for name, port in supervisor.health_ports.items())
    print(f"Health, readiness and metrics of the workers: {ports}")
    print("Press Ctrl-C to stop.")
    try:
        supervisor.watch()
    finally:
        supervisor.stopping = True
        print("Stopping...")
        supervisor.stop()
        print("Stopped.")
    return 0
