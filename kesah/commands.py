"""Running the system: ``kesah up``, ``kesah serve``, ``kesah keys``."""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

from .cli import NAMEKO_SERVICES, configure_logging, settings


def register(sub: Any) -> None:
    p = sub.add_parser("up", help="run the whole system locally (SQLite, local RabbitMQ)")
    p.add_argument("--port", type=int, help="HTTP port (default 8000 or KESAH_HTTP_PORT)")
    p.add_argument("--data-dir", help="where SQLite files and keys live (default ./var or KESAH_DATA_DIR)")
    p.set_defaults(run=up)

    p = sub.add_parser("serve", help="run one part of the system (what a pod runs)")
    p.add_argument("part", choices=NAMEKO_SERVICES + ("relay", "web"))
    p.add_argument("--face", choices=("all", "intake", "responses", "publicview"), default="all",
                   help="with 'web': which HTTP face (default: all behind one port)")
    p.add_argument("--store", action="append", choices=("intake", "routing", "responses"),
                   help="with 'relay': which store's outbox (default: all); repeatable")
    p.set_defaults(run=serve)

    p = sub.add_parser("keys", help="signing keys")
    p.add_argument("action", choices=("init",))
    p.set_defaults(run=keys)


def up(args: argparse.Namespace) -> int:
    configure_logging("up")
    from . import devserver

    return devserver.up(settings(args), os.environ)


def serve(args: argparse.Namespace) -> int:
    configure_logging(args.part)
    loaded = settings()
    if args.part in NAMEKO_SERVICES:
        return _serve_nameko(args.part, loaded)
    if args.part == "relay":
        return _serve_relay(loaded, args.store or ["intake", "routing", "responses"])
    return _serve_web(loaded, args.face)


def _serve_nameko(part: str, loaded) -> int:  # type: ignore[no-untyped-def]
    from . import database

    database.make_green()
    if part == "intake":
        from services.intake.service import IntakeService as service
    elif part == "routing":
        from services.routing.service import RoutingService as service
    elif part == "responses":
        from services.responses.service import ResponsesService as service
    else:
        from services.publicview.service import PublicviewService as service
    if part != "publicview":  # publicview answers no RPC
        from .rpc import replace_classic_request_queue

        replace_classic_request_queue(loaded.amqp_uri, part)
    _run_until_stopped(service, loaded.nameko_config())
    return 0


def _run_until_stopped(service: type, nameko_config: dict) -> None:
    """nameko's ``run``, except that SIGTERM during the start waits for the start to finish.

    nameko stopped while its consumers are still starting never returns (its
    queue consumer's "last provider" event fires twice), so a pod ended while
    it starts would hang until killed. Signals run in the main greenlet; the
    stop is spawned, as nameko's own handler does.
    """
    import errno
    import signal

    import eventlet
    from nameko.runners import ServiceRunner

    runner = ServiceRunner(nameko_config)
    runner.add_service(service)
    state = {"started": False, "asked": False, "stopping": False}

    def stop_once() -> None:
        if not state["stopping"]:
            state["stopping"] = True
            eventlet.spawn_n(runner.stop)

    def on_sigterm(signum, frame):  # type: ignore[no-untyped-def]
        state["asked"] = True
        if state["started"]:
            stop_once()

    signal.signal(signal.SIGTERM, on_sigterm)
    runner.start()
    state["started"] = True
    if state["asked"]:
        stop_once()
    waiting = eventlet.spawn(runner.wait)
    while True:
        try:
            waiting.wait()
            return
        except OSError as exc:  # a signal interrupting the hub's wait: go on waiting
            if exc.errno != errno.EINTR:
                raise
        except KeyboardInterrupt:
            runner.stop()
            return


def _serve_relay(loaded, sources: Sequence[str]) -> int:  # type: ignore[no-untyped-def]
    import signal

    from . import stores
    from .alerts import Alerter
    from .relay import Relay

    relay = Relay(
        [stores.reader_store(loaded, s) for s in sources],
        loaded.amqp_uri,
        batch=loaded.relay_batch,
        idle_seconds=loaded.relay_idle_seconds,
        delivery_limit=loaded.delivery_limit,
        retry_max_seconds=loaded.relay_retry_max_seconds,
        alerter=Alerter("relay", loaded.alert_webhook),
    )
    from . import schema

    for store in relay.stores:
        schema.prepare(store.engine, store.source)
    from .health import ThreadServer

    server = ThreadServer(relay.probes(), loaded.http_host, loaded.health_port)
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    signal.signal(signal.SIGINT, lambda *_: relay.stop())
    try:
        relay.run()
    finally:
        server.stop()
    return 0


def _serve_web(loaded, face: str) -> int:  # type: ignore[no-untyped-def]
    from . import gateway, http

    faces = gateway.FACES if face == "all" else (face,)
    http.serve(gateway.build(loaded, faces), loaded.http_host, loaded.http_port, loaded.trusted_proxies)
    return 0


def keys(args: argparse.Namespace) -> int:
    from . import config, signing

    loaded = settings()
    created = signing.init_keys(loaded.keys_dir, config.OWNERS)
    for service in config.OWNERS:
        state = "created" if service in created else "exists"
        print(f"{service}: {state} ({loaded.keys_dir / (service + '.key')})")
    return 0
