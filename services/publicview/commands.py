"""Operator commands for the public view."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kesah.cli import settings


def register(sub: Any) -> None:
    p = sub.add_parser("dump", help="print a canonical dump of a projection")
    p.add_argument("what", choices=("publicview",))
    p.set_defaults(run=dump)


def dump(args: argparse.Namespace) -> int:
    from .store import PublicView

    view = PublicView.open(settings())
    out = sys.stdout
    for line in view.dump():
        out.write(line)
        out.write("\n")
    return 0
