"""Integrity commands: ``kesah verify``.

``kesah verify [intake|routing|responses|publicview|all]`` checks every
stored event (positions, chain, signatures, schema), names the first bad
position per store and what is wrong there, compares publicview's
projection with a rebuild from its journal, and exits 1 when anything is
wrong (0 when all verifies, 2 when it cannot run). Nothing is repaired: the
operator gets the verdict and the command to run.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli import CliError, settings

TARGETS = ("intake", "routing", "responses", "publicview", "all")


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="verify the event logs, publicview's journal and projection")
    p.add_argument("target", nargs="?", choices=TARGETS, default="all")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(run=verify_command)


def name_missing(report: Any, other_copy: Any) -> None:
    """Say which event a missing position held, from another copy of the log."""
    problem = report.problem
    if problem is None or problem.kind != "missing" or problem.event_id is not None or other_copy is None:
        return
    try:
        event = other_copy(problem.position)
    except Exception:  # the other copy is not reachable from here: the position alone must do
        return
    if event is None:
        return
    from dataclasses import replace

    code = event.payload.get("tracking_code")
    known = f"; it held event {event.event_id} ({event.type}{', ' + code if code else ''}, {event.occurred_at})"
    report.problem = replace(problem, detail=problem.detail + known, event_id=event.event_id,
                             event_type=event.type)


class Copies:
    """The stores of this installation, opened when first needed and only if they exist."""

    def __init__(self, loaded: Any) -> None:
        from . import stores

        self.settings = loaded
        self.keyring = stores.keyring(loaded)
        self._view: Any = None

    def exists(self, service: str) -> bool:
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.database_url(service))
        if url.get_backend_name() == "sqlite":
            from pathlib import Path

            return bool(url.database) and Path(url.database).exists()
        return True

    def view(self) -> Any:
        if self._view is None:
            from services.publicview.store import PublicView

            self._view = PublicView.open(self.settings)
        return self._view

    def journal_event(self, source: str, position: int) -> Any:
        from services.publicview import integrity

        return integrity.journal_event(self.view(), source, position) if self.exists("publicview") else None

    def owner_event(self, source: str, position: int) -> Any:
        from . import stores

        if not self.exists(source):
            return None
        owner = stores.reader_store(self.settings, source)
        try:
            return next(iter(owner.read(after=position - 1, limit=1)), None)
        finally:
            owner.engine.dispose()

    def close(self) -> None:
        if self._view is not None:
            self._view.engine.dispose()


def verify_command(args: argparse.Namespace) -> int:
    from . import config, stores, verify
    from .logwatch import owner_remedy

    copies = Copies(settings())
    targets = config.SERVICES if args.target == "all" else (args.target,)
    results: list[dict[str, Any]] = []
    lines: list[str] = []

    def add(report: Any, remedy: str) -> None:
        results.append({**report.to_json(), "remedy": None if report.ok else remedy})
        lines.append(report.summary())
        if not report.ok:
            lines.append("  " + remedy)

    owners = {}
    for source in (t for t in targets if t != "publicview"):
        if not copies.exists(source):
            raise CliError(f"{source}'s database does not exist ({copies.settings.database_url(source)})")
        store = stores.reader_store(copies.settings, source)
        report = verify.verify_store(store, copies.keyring)
        store.engine.dispose()
        name_missing(report, lambda position, s=source: copies.journal_event(s, position))
        owners[source] = report
        add(report, owner_remedy(source))

    if "publicview" in targets:
        from services.publicview import integrity
        from services.publicview.integrity import JOURNAL_REMEDY, PROJECTION_REMEDY

        journal_ok = True
        for report in integrity.verify_journal(copies.view(), copies.keyring):
            source = report.name.split("(")[-1].rstrip(")")
            name_missing(report, lambda position, s=source: copies.owner_event(s, position))
            journal_ok = journal_ok and report.ok
            add(report, JOURNAL_REMEDY)
            owner = owners.get(source)
            if owner is not None and owner.ok and report.ok and report.head.position > owner.head.position:
                # The journal holds events the owner no longer has: the owner lost its tail.
                lost = verify.LogReport(source, head=owner.head, problem=verify.Problem(
                    owner.head.position + 1, verify.MISSING,
                    f"publicview's journal has {source}'s log up to {report.head.position}, "
                    f"the store only up to {owner.head.position}"))
                name_missing(lost, lambda position, s=source: copies.journal_event(s, position))
                add(lost, owner_remedy(source))
        if journal_ok:
            add(integrity.verify_projection(copies.view()), PROJECTION_REMEDY)
        else:
            lines.append("publicview projection: not compared: its journal must verify first")
    copies.close()

    ok = all(r["ok"] for r in results)
    if args.json:
        json.dump({"ok": ok, "reports": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in lines:
            print(line)
        print("all verified" if ok else "verification FAILED")
    return 0 if ok else 1
