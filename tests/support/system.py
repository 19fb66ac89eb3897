"""The real system, in real processes, for end-to-end tests.

Each System has its own data directory, its own vhost on the machine's
RabbitMQ and its own port; it runs the same processes as ``kesah up``
through the same Supervisor, so a test can stop, kill or restart any part.
Set KESAH_TEST_STORES=postgres to put every store on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import httpx

from kesah import config, devserver
from kesah.eventstore import EventStore
from kesah import stores

from . import services

DEFAULT_COMPLAINT = {
    "kind": "keluhan",
    "title": "Jalan berlubang di Jl. Awang Long",
    "body": "Jalan berlubang besar di depan pasar, sudah dua minggu belum diperbaiki.",
    "kelurahan": "Bontang Baru",
    "address": "Jl. Awang Long depan pasar",
}


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port() -> int:
    """A port free now and outside the kernel's ephemeral range.

    A port the kernel hands out (bind to 0) is also what it hands to the next
    outgoing connection, so between choosing it and a server binding it, some
    process's connection to RabbitMQ or PostgreSQL can take it ("address
    already in use"). Ports below the ephemeral range are only taken by a bind.
    """
    ephemeral = _ephemeral_ports()
    candidates = [p for p in range(20000, 32000) if p not in ephemeral]
    for port in random.sample(candidates, 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def wait_until(check: Callable[[], Any], timeout: float = 20.0, message: str = "condition", interval: float = 0.05) -> Any:
    """Poll until ``check()`` is truthy; returns its value or fails with ``message``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class System:
    def __init__(
        self,
        data_dir: Path,
        vhost: str,
        database_urls: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.vhost = vhost
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KESAH_")}
        env.update(
            KESAH_DATA_DIR=str(data_dir),
            KESAH_AMQP_URI=services.amqp_uri(vhost),
            KESAH_HTTP_PORT=str(self.port),
            KESAH_RELAY_IDLE_SECONDS="0.02",
            KESAH_LOG_LEVEL="INFO",
            # Every test submits from 127.0.0.1; the limit has its own test (tests/e2e/test_submit_limit.py).
            KESAH_SUBMIT_LIMIT="off",
        )
        for service, url in (database_urls or {}).items():
            env[f"KESAH_{service.upper()}_DB_URL"] = url
        env.update(extra_env or {})
        self.env = env
        self.settings = config.load(env)
        devserver.prepare(self.settings)
        self.tokens: dict[str, str] = json.loads((data_dir / "agency-tokens.json").read_text())
        self.health_ports = {name: free_port() for name in devserver.WATCHED}
        self.supervisor = devserver.Supervisor(env, log_dir=data_dir / "logs", health_ports=self.health_ports)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        self._stores: dict[str, EventStore] = {}

    # --- processes ------------------------------------------------------------

    def start(self, *names: str) -> "System":
        """Start parts; "routing#2" starts a second routing worker beside the first."""
        for name in names or devserver.PROCESSES:
            if devserver.part(name) in devserver.WATCHED and name not in self.health_ports:
                self.health_ports[name] = self.supervisor.health_ports[name] = free_port()
            self.supervisor.start(name)
        if not names or "web" in names:
            wait_until(self._healthy, 30, "the web face to answer /healthz")
        return self

    def _healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, *names: str) -> None:
        for name in names or list(self.supervisor.children):
            self.supervisor.stop(name)

    def kill(self, name: str) -> None:
        self.supervisor.kill(name)

    def close(self) -> None:
        self.supervisor.stopping = True
        self.supervisor.stop()
        self.http.close()
        for store in self._stores.values():
            store.engine.dispose()

    def probe(self, name: str, path: str = "/readyz") -> httpx.Response | None:
        """GET a probe of a part: its health port (workers, relay) or the web port; None if it does not answer."""
        base = f"http://127.0.0.1:{self.health_ports[name]}" if name in self.health_ports else str(self.http.base_url)
        try:
            return httpx.get(base.rstrip("/") + path, timeout=5)
        except httpx.TransportError:
            return None

    def kesah(self, *args: str) -> tuple[int, str]:
        """Run a ``kesah`` command in this process against this system's stores: (exit code, output)."""
        import contextlib
        import io

        from kesah import cli

        saved = dict(os.environ)
        out = io.StringIO()
        try:
            os.environ.clear()
            os.environ.update(self.env)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = cli.main(list(args))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return code, out.getvalue()

    def logs(self, name: str) -> str:
        path = self.data_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- talking to it ----------------------------------------------------------

    def submit(self, **fields: Any) -> dict[str, Any]:
        body = {**DEFAULT_COMPLAINT, **fields}
        response = self.http.post("/api/complaints", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def answer(self, code: str, agency: str, body: str = "Sudah kami tangani hari ini.", **extra: Any) -> httpx.Response:
        return self.http.post(
            f"/api/agency/complaints/{code}/responses",
            json={"body": body, **extra},
            headers={"authorization": f"Bearer {self.tokens[agency]}"},
        )

    def public(self, code: str) -> dict[str, Any] | None:
        response = self.http.get(f"/api/complaints/{code}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()

    def wait_public(self, code: str, predicate: Callable[[dict[str, Any]], bool] = lambda c: True,
                    timeout: float = 20.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            doc = self.public(code)
            return doc if doc is not None and predicate(doc) else None

        return wait_until(check, timeout, f"complaint {code} on the public view")

    def routed(self, code: str, timeout: float = 20.0) -> dict[str, Any]:
        """The public document once routed, and once the agency's inbox has it too."""
        doc = self.wait_public(code, lambda c: c.get("agency") is not None, timeout)
        self.assigned(code, doc["agency"]["id"], timeout)
        return doc

    def assigned(self, code: str, agency: str, timeout: float = 20.0) -> None:
        """Wait until responses knows the complaint is routed to the agency (publicview may know first)."""

        def check() -> bool:
            listed = self.http.get("/api/agency/complaints", headers={"authorization": f"Bearer {self.tokens[agency]}"})
            return any(c["tracking_code"] == code for c in listed.json()["complaints"])

        wait_until(check, timeout, f"complaint {code} assigned to {agency}")

    def store(self, service: str) -> EventStore:
        if service not in self._stores:
            self._stores[service] = stores.reader_store(self.settings, service)
        return self._stores[service]

    def events(self, service: str, types: Iterable[str] | None = None) -> list[Any]:
        wanted = set(types) if types else None
        return [e for e in self.store(service).read() if wanted is None or e.type in wanted]

    # --- the agency portal ------------------------------------------------------------

    def account(self, username: str, role: str, agency: str | None = None) -> str:
        """Create a portal account in responses' store (as ``kesah account add`` does); returns its password."""
        from services.responses.store import Responses

        password = password_of(username)
        responses = Responses.open(self.settings)
        try:
            responses.accounts.create(None, username, username.title(), role, agency, password)
        finally:
            responses.store.engine.dispose()
        return password

    def portal(self, username: str, password: str | None = None) -> "PortalUser":
        """A logged-in browser-like client of the agency portal (its own cookies)."""
        user = PortalUser(httpx.Client(base_url=str(self.http.base_url), timeout=30))
        response = user.login(username, password or password_of(username))
        assert response.status_code == 303, response.text
        return user


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def password_of(username: str) -> str:
    """The password ``System.account`` gives: one the portal's password rule accepts."""
    return f"Lubang-{username}-di-Awang-Long"


class PortalUser:
    """One person's session in the portal: GET pages, POST forms with the page's CSRF token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def login(self, username: str, password: str, headers: dict[str, str] | None = None) -> httpx.Response:
        page = self.http.get("/agency/login")
        token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        return self.http.post("/agency/login", data={"csrf_token": token, "username": username, "password": password},
                              headers=headers)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def csrf(self) -> str:
        return CSRF_RE.search(self.http.get("/agency/inbox").text).group(1)  # type: ignore[union-attr]

    def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> httpx.Response:
        return self.http.post(path, data={**data, **({"csrf_token": self.csrf()} if csrf else {})})

    def close(self) -> None:
        self.http.close()
