"""The ``kesah`` command: thin — parse, call, report.

Imports are lazy: ``kesah serve <nameko service>`` must monkey-patch
eventlet before anything else touches sockets or threads.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

NAMEKO_SERVICES = ("intake", "routing", "responses", "publicview")


class CliError(Exception):
    """A problem the operator can fix; printed as one sentence, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kesah", description="Kesah Etam: citizen complaints as a signed event log.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="run the whole system locally (SQLite, local RabbitMQ)")
    p.add_argument("--port", type=int, help="HTTP port (default 8000 or KESAH_HTTP_PORT)")
    p.add_argument("--data-dir", help="where SQLite files and keys live (default ./var or KESAH_DATA_DIR)")

    p = sub.add_parser("serve", help="run one part of the system (what a pod runs)")
    p.add_argument("part", choices=NAMEKO_SERVICES + ("relay", "web"))
    p.add_argument("--face", choices=("all", "intake", "responses", "publicview"), default="all",
                   help="with 'web': which HTTP face (default: all behind one port)")
    p.add_argument("--store", action="append", choices=("intake", "routing", "responses"),
                   help="with 'relay': which store's outbox (default: all); repeatable")

    p = sub.add_parser("keys", help="signing keys")
    p.add_argument("action", choices=("init",))

    p = sub.add_parser("agency", help="agencies")
    p.add_argument("action", choices=("token",))
    p.add_argument("agency_id")

    p = sub.add_parser("dump", help="print a canonical dump of a projection")
    p.add_argument("what", choices=("publicview",))
    return parser


def _configure_logging(name: str) -> None:
    level = os.environ.get("KESAH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s %(levelname)s {name} [%(name)s] %(message)s",
        stream=sys.stderr,
    )
    # pika narrates every connection step at INFO; keep its warnings only.
    logging.getLogger("pika").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "serve" and argv[1] in NAMEKO_SERVICES:
        import warnings

        warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
        import eventlet

        eventlet.monkey_patch()
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"kesah: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace | None = None):  # type: ignore[no-untyped-def]
    from . import config

    if args is not None:
        if getattr(args, "data_dir", None):
            os.environ["KESAH_DATA_DIR"] = os.path.abspath(args.data_dir)
        if getattr(args, "port", None):
            os.environ["KESAH_HTTP_PORT"] = str(args.port)
    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    # Children inherit an absolute data dir, whatever their working directory.
    os.environ["KESAH_DATA_DIR"] = str(settings.data_dir)
    return settings


def cmd_up(args: argparse.Namespace) -> int:
    _configure_logging("up")
    from . import devserver

    settings = _settings(args)
    return devserver.up(settings, os.environ)


def cmd_serve(args: argparse.Namespace) -> int:
    _configure_logging(args.part)
    settings = _settings()
    if args.part in NAMEKO_SERVICES:
        return _serve_nameko(args.part, settings)
    if args.part == "relay":
        return _serve_relay(settings, args.store or ["intake", "routing", "responses"])
    return _serve_web(settings, args.face)


def _serve_nameko(part: str, settings) -> int:  # type: ignore[no-untyped-def]
    from nameko.cli.run import run

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
    run([service], settings.nameko_config())
    return 0


def _serve_relay(settings, sources: Sequence[str]) -> int:  # type: ignore[no-untyped-def]
    import signal

    from . import stores
    from .relay import Relay

    relay = Relay(
        [stores.reader_store(settings, s) for s in sources],
        settings.amqp_uri,
        batch=settings.relay_batch,
        idle_seconds=settings.relay_idle_seconds,
        delivery_limit=settings.delivery_limit,
    )
    for store in relay.stores:
        store.create_schema()
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    signal.signal(signal.SIGINT, lambda *_: relay.stop())
    relay.run()
    return 0


def _serve_web(settings, face: str) -> int:  # type: ignore[no-untyped-def]
    import uvicorn

    from . import gateway

    faces = gateway.FACES if face == "all" else (face,)
    app = gateway.build(settings, faces)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning",
                access_log=False, timeout_graceful_shutdown=5)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from . import config, signing

    settings = _settings()
    created = signing.init_keys(settings.keys_dir, config.OWNERS)
    for service in config.OWNERS:
        state = "created" if service in created else "exists"
        print(f"{service}: {state} ({settings.keys_dir / (service + '.key')})")
    return 0


def cmd_agency(args: argparse.Namespace) -> int:
    from services.responses.store import Responses

    settings = _settings()
    responses = Responses.open(settings)
    try:
        token = responses.issue_token(args.agency_id)
    except KeyError:
        raise CliError(f"no agency with id {args.agency_id!r}") from None
    print(token)
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    from services.publicview.store import PublicView

    settings = _settings()
    view = PublicView.open(settings)
    out = sys.stdout
    for line in view.dump():
        out.write(line)
        out.write("\n")
    return 0


COMMANDS = {
    "up": cmd_up,
    "serve": cmd_serve,
    "keys": cmd_keys,
    "agency": cmd_agency,
    "dump": cmd_dump,
}
