"""Database commands: ``kesah migrate``, ``kesah db init-roles``, ``kesah db revision``."""

from __future__ import annotations

import argparse
from typing import Any

from .cli import CliError, settings

TARGETS = ("intake", "routing", "responses", "publicview", "contactvault", "all")


def register(sub: Any) -> None:
    p = sub.add_parser("migrate", help="bring service databases to the code's schema (Alembic)")
    p.add_argument("target", nargs="?", choices=TARGETS, default="all", help="which service's database (default all)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a database is behind")
    p.set_defaults(run=migrate)

    p = sub.add_parser("db", help="database administration")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = actions.add_parser("init-roles",
                           help="PostgreSQL: a database and a login role per service (KESAH_DB_ADMIN_URL)")
    r.add_argument("target", nargs="?", choices=TARGETS, default="all", help="which service (default all)")
    r.set_defaults(run=init_roles)
    r = actions.add_parser("revision", help="write a migration for tables changed in code (developers)")
    r.add_argument("component", help="eventstore, intake, responses or publicview")
    r.add_argument("message", help="what changed, e.g. 'add due date index'")
    r.set_defaults(run=revision)


def _services(target: str) -> list[str]:
    from . import config

    return list(config.SERVICES) + ["contactvault"] if target == "all" else [target]


def migrate(args: argparse.Namespace) -> int:
    from . import database, schema

    loaded = settings()
    if args.check:
        behind = 0
        for service in _services(args.target):
            engine = database.create_engine(loaded.database_url(service))
            try:
                schema.check(engine, schema.DATABASES[service], service)
                print(f"{service}: at head")
            except schema.SchemaError as exc:
                print(f"{service}: {exc}")
                behind += 1
            finally:
                engine.dispose()
        return 1 if behind else 0
    for service, changed in schema.migrate(loaded, _services(args.target)).items():
        print(f"{service}: {'migrated ' + ', '.join(changed) if changed else 'at head'}")
    return 0


def init_roles(args: argparse.Namespace) -> int:
    from . import roles

    loaded = settings()
    if not loaded.db_admin_url:
        raise CliError("set KESAH_DB_ADMIN_URL to a PostgreSQL role that may create roles and databases")
    from . import database

    # The contact vault gets a role only when it is on PostgreSQL too (its default is a SQLite file).
    targets = [s for s in _services(args.target)
               if not (s == "contactvault" and args.target == "all" and database.is_sqlite(loaded.database_url(s)))]
    try:
        for line in roles.init_roles(loaded.db_admin_url, loaded, targets):
            print(line)
    except roles.RoleError as exc:
        raise CliError(str(exc)) from None
    print("next: 'kesah migrate' (with KESAH_DB_ADMIN_URL set) creates the tables and grants each role its privileges")
    return 0


def revision(args: argparse.Namespace) -> int:
    from . import schema

    if args.component not in schema.COMPONENTS:
        raise CliError(f"no component {args.component!r}; one of {', '.join(schema.COMPONENTS)}")
    path = schema.new_revision(args.component, args.message)
    print(f"wrote {path}; review it" if path else f"{args.component}: migrations already match the tables in code")
    return 0
