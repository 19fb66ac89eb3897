"""Operator commands for agencies and portal accounts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kesah.cli import CliError, settings


def register(sub: Any) -> None:
    p = sub.add_parser("agency", help="agencies")
    p.add_argument("action", choices=("token",))
    p.add_argument("agency_id")
    p.set_defaults(run=agency)

    p = sub.add_parser("account", help="agency portal accounts")
    p.add_argument("action", choices=("add", "unlock"),
                   help="add: create an account; unlock: forget the failed logins of USERNAME (from every "
                        "address) or of --address (over every username)")
    p.add_argument("username", nargs="?")
    p.add_argument("--address", help="unlock: the client address whose failed logins are forgotten")
    p.add_argument("--role", choices=("staff", "admin", "operator"))
    p.add_argument("--agency", help="the agency of a staff or admin account")
    p.add_argument("--name", help="the person's name (default: the username)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (default: generate one and print it)")
    p.set_defaults(run=account)


def agency(args: argparse.Namespace) -> int:
    from .store import Responses

    responses = Responses.open(settings())
    try:
        token = responses.issue_token(args.agency_id)
    except KeyError:
        raise CliError(f"no agency with id {args.agency_id!r}") from None
    print(token)
    return 0


def account(args: argparse.Namespace) -> int:
    if args.action == "unlock":
        return unlock(args)
    if not args.username:
        raise CliError("account add needs a USERNAME")
    if not args.role:
        raise CliError("account add needs --role staff, admin or operator")
    from . import passwords
    from .accounts import AccountError
    from .store import Responses

    name = args.name or args.username
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = passwords.generate(args.username, name, [args.agency or ""])
    responses = Responses.open(settings())
    try:
        responses.accounts.create(None, args.username, name, args.role, args.agency, password)
    except AccountError as exc:
        raise CliError(f"account not created: {exc.english}.") from None
    finally:
        responses.store.engine.dispose()
    print(f"account {args.username} ({args.role}) created" + ("" if args.password_stdin else f"; password: {password}"))
    return 0


def unlock(args: argparse.Namespace) -> int:
    from .store import Responses

    if bool(args.username) == bool(args.address):
        raise CliError("account unlock needs a USERNAME or --address ADDRESS, not both")
    responses = Responses.open(settings())
    try:
        forgotten = responses.accounts.unlock(username=args.username, client=args.address)
    finally:
        responses.store.engine.dispose()
    whose = f"username {args.username}" if args.username else f"address {args.address}"
    print(f"forgot {forgotten} failed-login record(s) of {whose}; it may log in again")
    return 0
