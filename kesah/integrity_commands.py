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

from . import broker
from .cli import CliError, settings

TARGETS = ("intake", "routing", "responses", "publicview", "all")
CONSUMERS = tuple(broker.SUBSCRIPTIONS)
JOURNAL = "publicview's journal"


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="verify the event logs, publicview's journal and projection")
    p.add_argument("target", nargs="?", choices=TARGETS, default="all")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(run=verify_command)

    p = sub.add_parser("audit", help="check a saved checkpoint (from /transparansi) against the log as it is now")
    p.add_argument("file", help="a checkpoint saved from /transparansi/<source>-<position>.json, or /transparansi.json")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="the public site: check against its published events and keys "
                                     "(anyone can; confidential complaints' content is withheld there)")
    where.add_argument("--journal", action="store_true",
                       help="check against publicview's journal instead of the owner's store")
    p.set_defaults(run=audit_command)

    p = sub.add_parser("dlq", help="dead-letter queues: events a consumer would not or could not handle")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("list", help="every dead letter with its reason (nothing is moved)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=dlq_list)
    a = actions.add_parser("show", help="one dead letter: reason, headers and body")
    a.add_argument("id", help="the event id (or message id) that 'kesah dlq list' shows")
    a.set_defaults(run=dlq_show)
    a = actions.add_parser("redrive", help="send dead letters back to their consumer's inbox")
    a.add_argument("ids", nargs="*", help="event ids; none with --all")
    a.add_argument("--all", action="store_true", help="every dead letter (of --consumer)")
    a.set_defaults(run=dlq_redrive)
    a = actions.add_parser("drop", help="delete dead letters for good (a forged event, after looking at it)")
    a.add_argument("ids", nargs="+", help="event ids")
    a.set_defaults(run=dlq_drop)
    for a in actions.choices.values():
        a.add_argument("--consumer", action="append", choices=CONSUMERS,
                       help="only this consumer's dead-letter queue (repeatable; default all)")


def name_missing(report: Any, other_copy: Any, copy_name: str) -> None:
    """Say which event a missing position held, from another copy of the log."""
    problem = report.problem
    if problem is None or problem.kind != "missing" or problem.event_id is not None:
        return
    try:
        event = other_copy(problem.position)
    except Exception:  # the other copy is not reachable from here: the position alone must do
        return
    if event is None:
        return
    from dataclasses import replace

    code = event.payload.get("tracking_code")
    known = f"; {copy_name} has it: {code + ', ' if code else ''}occurred {event.occurred_at}"
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
            from services.publicview import storefile
            from services.publicview.store import PublicView

            # Opening migrates: an emptied file would be made anew, and the evidence with it.
            found = storefile.damage(storefile.path_of(self.settings))
            if found is not None:
                raise CliError(storefile.cannot_read(found))
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
        name_missing(report, lambda position, s=source: copies.journal_event(s, position), JOURNAL)
        owners[source] = report
        add(report, owner_remedy(source))

    def verify_publicview() -> None:
        from services.publicview import integrity
        from services.publicview.integrity import JOURNAL_REMEDY, PROJECTION_REMEDY

        journal_ok = True
        for report in integrity.verify_journal(copies.view(), copies.keyring):
            source = report.name.split("(")[-1].rstrip(")")
            name_missing(report, lambda position, s=source: copies.owner_event(s, position), f"{source}'s store")
            journal_ok = journal_ok and report.ok
            add(report, JOURNAL_REMEDY)
            owner = owners.get(source)
            if owner is not None and owner.ok and report.ok and report.head.position > owner.head.position:
                # The journal holds events the owner no longer has: the owner lost its tail.
                lost = verify.LogReport(source, head=owner.head, problem=verify.Problem(
                    owner.head.position + 1, verify.MISSING,
                    f"publicview's journal has {source}'s log up to {report.head.position}, "
                    f"the store only up to {owner.head.position}"))
                name_missing(lost, lambda position, s=source: copies.journal_event(s, position), JOURNAL)
                add(lost, owner_remedy(source))
        if journal_ok:
            add(integrity.verify_projection(copies.view()), PROJECTION_REMEDY)
        else:
            lines.append("publicview projection: not compared: its journal must verify first")

    if "publicview" in targets:
        from services.publicview import storefile

        path = storefile.path_of(copies.settings)
        found = storefile.damage(path)
        if found is None:
            try:
                verify_publicview()
            except Exception as exc:
                found = storefile.met(exc, path)
                if found is None:
                    raise
        if found is not None:
            results.append({"name": "publicview's database", "ok": False, "problem": {
                "kind": "damaged file", "path": found.path, "detail": found.reason}, "remedy": storefile.REMEDY})
            lines.append(f"publicview's database: FAILED: {found.summary()}")
            lines.append("  " + storefile.REMEDY)
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


# --- dead letters -------------------------------------------------------------------------

def _dead_letters():  # type: ignore[no-untyped-def]
    from .deadletters import DeadLetters

    loaded = settings()
    try:
        return DeadLetters(loaded.amqp_uri, loaded.delivery_limit)
    except Exception as exc:  # the broker is not there: say so in a sentence
        raise CliError(f"cannot reach RabbitMQ ({exc.__class__.__name__}: {exc})") from None


def dlq_list(args: argparse.Namespace) -> int:
    with _dead_letters() as dlq:
        letters = dlq.list(args.consumer)
    if args.json:
        json.dump([letter.to_json() for letter in letters], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for letter in letters:
        print(f"{letter.consumer:<11} {letter.id:<36} {letter.event_type or '-':<22} {letter.where():<14} "
              f"{letter.at or '-':<27} {letter.reason}")
    print(f"{len(letters)} dead letter(s)")
    return 0


def dlq_show(args: argparse.Namespace) -> int:
    with _dead_letters() as dlq:
        found = [letter for letter in dlq.list(args.consumer) if letter.id == args.id]
    if not found:
        raise CliError(f"no dead letter {args.id}; 'kesah dlq list' shows them")
    for letter in found:
        json.dump(letter.to_json(with_body=True), sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    return 0


def dlq_redrive(args: argparse.Namespace) -> int:
    if not args.ids and not args.all:
        raise CliError("name the dead letters to send back (their ids), or --all")
    with _dead_letters() as dlq:
        moved = dlq.redrive(None if args.all else args.ids, args.consumer)
    for letter in moved:
        print(f"sent back to {letter.consumer}.inbox: {letter.id} ({letter.event_type or '-'})")
    missing = set(args.ids) - {letter.id for letter in moved}
    for letter_id in sorted(missing):
        print(f"not found: {letter_id}")
    print(f"{len(moved)} dead letter(s) sent back; a consumer that rejects one again dead-letters it again")
    return 1 if missing else 0


def dlq_drop(args: argparse.Namespace) -> int:
    with _dead_letters() as dlq:
        dropped = dlq.drop(args.ids, args.consumer)
    for letter in dropped:
        print(f"dropped from {letter.consumer}.dead-letter: {letter.id} ({letter.event_type or '-'})")
    missing = set(args.ids) - {letter.id for letter in dropped}
    for letter_id in sorted(missing):
        print(f"not found: {letter_id}")
    return 1 if missing else 0


# --- auditing a saved checkpoint ------------------------------------------------------------

def _load_checkpoints(path: str) -> list[Any]:
    from .checkpoints import Checkpoint, CheckpointError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise CliError(f"{path} is not JSON: save the file /transparansi/<source>-<position>.json gives") from None
    items = data.get("checkpoints") if isinstance(data, dict) and "checkpoints" in data else [data]
    try:
        return [Checkpoint.from_publication(item) for item in items]
    except CheckpointError as exc:
        raise CliError(f"{path}: {exc}") from None


def _site(url: str, path: str) -> Any:
    """A response from the public site, streamed."""
    import urllib.error
    import urllib.request

    try:
        return urllib.request.urlopen(url.rstrip("/") + path, timeout=60)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CliError(f"cannot fetch {url.rstrip('/')}{path}: {getattr(exc, 'reason', exc)}") from None


def _site_events(url: str, source: str) -> Any:
    """A source's events from the site's open data, in position order, one line at a time."""
    from .checkpoints import redacted
    from .contracts import RecordedEvent

    with _site(url, "/data/peristiwa.json") as response:
        for raw in response:
            line = raw.decode("utf-8").strip().rstrip(",")
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if record.get("source") != source:
                continue
            hidden = bool(record.pop("redacted", False))
            record["payload"] = record.get("payload") or {}
            event = RecordedEvent(**record)
            yield redacted(event) if hidden else event


def audit_command(args: argparse.Namespace) -> int:
    from . import checkpoints, signing, stores, verify

    saved = _load_checkpoints(args.file)
    copies = None
    if args.url:
        with _site(args.url, "/transparansi.json") as response:
            published = json.load(response)
        keyring = signing.Keyring()
        for source, keys in (published.get("keys") or {}).items():
            for key in keys.values():
                keyring.add(source, key)
    else:
        copies = Copies(settings())
        keyring = copies.keyring
    ok = True
    for checkpoint in saved:
        trusted = checkpoint.own_key() if checkpoint.public_key else keyring
        problem = checkpoint.authenticate(trusted)
        if problem is None and checkpoint.public_key and checkpoint.event.key_id not in \
                keyring.public_keys().get(checkpoint.source, {}):
            problem = f"signed by key {checkpoint.event.key_id}, which is no longer {checkpoint.source}'s key here"
        if problem is not None:
            print(f"checkpoint {checkpoint.source}@{checkpoint.position}: FAILED: not authentic: {problem}")
            ok = False
            continue
        source = checkpoint.source
        if args.url:
            report = checkpoints.audit(checkpoint, _site_events(args.url, source), keyring)
        elif args.journal:
            from services.publicview import integrity

            assert copies is not None
            view = copies.view()
            report = checkpoints.audit(checkpoint, integrity.read_source(view, source), keyring,
                                       integrity.journal_successors(view, source))
            name_missing(report.log, lambda position, s=source: copies.owner_event(s, position), f"{source}'s store")
        else:
            assert copies is not None
            if not copies.exists(source):
                raise CliError(f"{source}'s database does not exist ({copies.settings.database_url(source)})")
            store = stores.reader_store(copies.settings, source)
            try:
                report = checkpoints.audit(checkpoint, store.read(), keyring, verify.store_successors(store))
            finally:
                store.engine.dispose()
            name_missing(report.log, lambda position, s=source: copies.journal_event(s, position), JOURNAL)
        print(report.summary())
        ok = ok and report.ok
    if copies is not None:
        copies.close()
    return 0 if ok else 1
