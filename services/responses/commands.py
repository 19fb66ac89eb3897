"""Operator commands for agencies."""

from __future__ import annotations

import argparse
from typing import Any

from kesah.cli import CliError, settings


def register(sub: Any) -> None:
    p = sub.add_parser("agency", help="agencies")
    p.add_argument("action", choices=("token",))
    p.add_argument("agency_id")
    p.set_defaults(run=agency)


def agency(args: argparse.Namespace) -> int:
    from .store import Responses

    responses = Responses.open(settings())
    try:
        token = responses.issue_token(args.agency_id)
    except KeyError:
        raise CliError(f"no agency with id {args.agency_id!r}") from None
    print(token)
    return 0
