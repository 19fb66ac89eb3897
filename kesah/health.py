"""Liveness, readiness and metrics for the processes that have no HTTP face.

The nameko workers and the outbox relay each serve three paths on
``KESAH_HEALTH_PORT`` (what the Kubernetes probes and Prometheus use):

- ``/healthz``: 200 while the process runs;
- ``/readyz``: 200 when every check passes, 503 with what is wrong otherwise;
- ``/metrics``: Prometheus text.

The HTTP faces answer the same paths on their own port (``kesah.http``);
both use ``readiness`` so the answers look alike. The server here is a tiny
WSGI app: on eventlet's server inside a nameko worker (it does not take one of
the service's worker slots, so a busy service still answers its probes), on
the standard library's server in a thread elsewhere.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable, Iterable, Mapping

from . import database, metrics

log = logging.getLogger("kesah.health")

Check = Callable[[], "str | None"]


def readiness(checks: Mapping[str, Check]) -> tuple[int, dict[str, Any]]:
    """Run every check: (200 or 503, the body saying which passed and what is wrong)."""
    results: dict[str, str | None] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a broken check means "not ready", never a crash
            results[name] = f"{exc.__class__.__name__}: {exc}"
    problems = {name: problem for name, problem in results.items() if problem}
    body = {
        "status": "unready" if problems else "ready",
        "checks": {name: problem or "ok" for name, problem in results.items()},
    }
    return (503 if problems else 200), body


def only(checks: Mapping[str, Check], names: Iterable[str]) -> Mapping[str, Check]:
    """The checks a probe asked for (``/readyz?check=store``; none asked: all).

    The Kubernetes readiness probe of an HTTP face asks only for ``store``:
    a face that can reach its database serves. Integrity and lag are for
    monitoring and alerts; were they in that probe, one tampered row or a
    stuck relay would take every replica out of its Service, and the public
    site and the complaint form offline with them.
    """
    names = [n for n in names if n]
    unknown = sorted(set(names) - set(checks))
    if unknown:
        raise KeyError(f"Pemeriksaan tidak dikenal: {', '.join(unknown)}.")
    return {name: checks[name] for name in names} if names else checks


def database_check(engine: Any) -> Check:
    """The database answers; an SQLite file must also be whole (its header, its tables).

    ``SELECT 1`` alone succeeds on garbage or an emptied file: it reads no page.
    """
    path = database.sqlite_file(engine)

    def check() -> str | None:
        if path is not None and (found := database.file_damage(path)):
            return f"database file {path} is damaged: {found}"
        try:
            with engine.connect() as conn:
                if path is None:
                    conn.exec_driver_sql("SELECT 1")
                elif not conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
                    return f"database file {path} is damaged: it holds no tables"
        except Exception as exc:  # any failure makes the process unready
            found = database.damage(exc)
            if found is not None:
                return f"database file {path} is damaged: {found}"
            return f"database: {exc.__class__.__name__}"
        return None

    return check


class Probes:
    """What one process reports: its readiness checks and its metrics."""

    def __init__(self, checks: Mapping[str, Check] | None = None,
                 collect: Callable[[], Iterable[metrics.Family]] | None = None) -> None:
        self.checks = dict(checks or {})
        self.collect = collect or (lambda: [])

    def metrics_text(self) -> str:
        return metrics.render(self.collect())


def wsgi_app(probes: Probes) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _json(start_response, 405, {"message": "Metode tidak diizinkan."})
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            from urllib.parse import parse_qs

            try:
                asked = only(probes.checks, parse_qs(environ.get("QUERY_STRING", "")).get("check", []))
            except KeyError as exc:
                return _json(start_response, 400, {"message": exc.args[0]})
            status, body = readiness(asked)
            return _json(start_response, status, body)
        if path == "/metrics":
            text = probes.metrics_text().encode("utf-8")
            start_response("200 OK", [("content-type", metrics.CONTENT_TYPE), ("content-length", str(len(text)))])
            return [text]
        return _json(start_response, 404, {"message": "Halaman atau data tidak ditemukan."})

    return app


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    start_response(f"{status} {_REASONS[status]}",
                   [("content-type", "application/json"), ("content-length", str(len(data)))])
    return [data]


class GreenServer:
    """The probes on eventlet's WSGI server, for a nameko worker."""

    def __init__(self, probes: Probes, host: str, port: int) -> None:
        import eventlet
        import eventlet.wsgi

        self.socket = eventlet.listen((host, port))
        self.thread = eventlet.spawn(
            eventlet.wsgi.server, self.socket, wsgi_app(probes), log_output=False, debug=False,
        )
        log.info("health, readiness and metrics on http://%s:%s/", host, port)

    def stop(self) -> None:
        self.thread.kill()
        self.socket.close()


class ThreadServer:
    """The probes on the standard library's WSGI server in a thread, for the relay."""

    def __init__(self, probes: Probes, host: str, port: int) -> None:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        self.server = make_server(host, port, wsgi_app(probes), server_class=Server, handler_class=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)
        self.thread.start()
        log.info("health, readiness and metrics on http://%s:%s/", host, port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
