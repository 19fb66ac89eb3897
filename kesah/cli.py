"""The ``kesah`` command: thin — parse, call, report.

Each command group lives beside the code it drives (``kesah/commands.py``
for running the system, ``services/<service>/commands.py`` for a service's
operator commands); each module's ``register`` adds its subcommands and sets
``run`` to the handler. Imports inside handlers are lazy: ``kesah serve
<nameko service>`` must monkey-patch eventlet before anything else touches
sockets or threads.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

NAMEKO_SERVICES = ("intake", "routing", "responses", "publicview")

COMMAND_MODULES = (
    "kesah.commands",
    "kesah.dbcommands",
    "services.intake.commands",
    "kesah.integrity_commands",
    "services.routing.commands",
    "services.responses.commands",
    "services.publicview.commands",
    "kesah.restore",
)


class CliError(Exception):
    """A problem the operator can fix; printed as one sentence, exit code 2."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kesah", description="Kesah Etam: citizen complaints as a signed event log.")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return root


def configure_logging(name: str) -> None:
    level = os.environ.get("KESAH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s %(levelname)s {name} [%(name)s] %(message)s",
        stream=sys.stderr,
    )
    # pika narrates every connection step at INFO; keep its warnings only.
    logging.getLogger("pika").setLevel(logging.WARNING)
    # alembic announces its dialect on every schema check; our own log says what migrated.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def settings(args: argparse.Namespace | None = None):  # type: ignore[no-untyped-def]
    """The settings, with --data-dir/--port from the command line applied."""
    from . import config

    if args is not None:
        if getattr(args, "data_dir", None):
            os.environ["KESAH_DATA_DIR"] = os.path.abspath(args.data_dir)
        if getattr(args, "port", None):
            os.environ["KESAH_HTTP_PORT"] = str(args.port)
    try:
        loaded = config.load()
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    # Children inherit an absolute data dir, whatever their working directory.
    os.environ["KESAH_DATA_DIR"] = str(loaded.data_dir)
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "serve" and argv[1] in NAMEKO_SERVICES:
        import warnings

        warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
        import eventlet

        eventlet.monkey_patch()
    args = parser().parse_args(argv)
    from sqlalchemy.exc import DatabaseError, OperationalError

    from .config import ConfigError
    from .database import damage
    from .schema import SchemaError
    from .signing import KeyProblem

    try:
        return int(args.run(args) or 0)
    except (CliError, ConfigError, KeyProblem, SchemaError) as exc:
        print(f"kesah: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"kesah: the database is not available: {exc.orig}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        found = damage(exc)
        if found is None:
            return _unexpected(exc)
        print(f"kesah: a database file is damaged ({found}); docs/runbook.md says what to run", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the operator gets a sentence; the traceback goes to the log
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    logging.getLogger("kesah.cli").debug("unexpected error", exc_info=exc)
    print(f"kesah: unexpected error: {exc.__class__.__name__}: {exc} "
          "(run with KESAH_LOG_LEVEL=DEBUG for details)", file=sys.stderr)
    return 1
