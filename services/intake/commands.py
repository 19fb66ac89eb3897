"""Operator commands for intake: posts from channels, erasing a reporter's contact data, Open311 clients."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from kesah.cli import CliError, settings
from kesah.contracts import KINDS

IMPORT_BATCH = 200  # posts per commit: a crash loses at most one batch, which a re-run takes in


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="import an export of posts (JSON Lines or CSV) as complaints, each once")
    p.add_argument("file", help="the export: .jsonl/.ndjson/.json (one JSON object per line) or .csv (header row)")
    p.add_argument("--channel", required=True, help="where the posts come from: facebook, instagram, x, email, ...")
    p.add_argument("--format", choices=("jsonl", "csv"), help="the file's format (default: from its name)")
    p.set_defaults(run=import_posts)

    p = sub.add_parser("posts", help="posts waiting for an operator to give their kind or kelurahan")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    waiting = actions.add_parser("waiting", help="list the posts that wait, oldest first")
    waiting.add_argument("--limit", type=int, default=50)
    waiting.set_defaults(run=list_waiting)
    complete = actions.add_parser("complete", help="give a waiting post what it lacks; it is submitted and routed")
    complete.add_argument("post_id")
    complete.add_argument("--kind", choices=KINDS)
    complete.add_argument("--kelurahan", help="e.g. 'Tanjung Laut' (any spelling of the reference name)")
    complete.set_defaults(run=complete_post)

    p = sub.add_parser("erase", help="erase a reporter's contact data for good (crypto-shredding) and record it")
    p.add_argument("tracking_code", help="the complaint's tracking code, e.g. KJ4M-X7PA")
    p.set_defaults(run=erase)

    p = sub.add_parser("open311", help="clients of the Open311 API")
    p.add_argument("action", choices=("key",), help="key: issue an api_key that may post requests")
    p.add_argument("client", help="a short name of the client application, e.g. lapor-bontang-app")
    p.set_defaults(run=open311)



def import_posts(args: argparse.Namespace) -> int:
    from kesah.progress import Progress

    from .channels import files, importable_channel
    from .store import Intake

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    if not importable_channel(args.channel):
        raise CliError(f"{args.channel!r} is not a channel name: lower case letters, digits and '-', not 'web'")
    fmt = args.format or files.detect_format(path)
    if fmt is None:
        raise CliError(f"cannot tell the format of {path.name} from its name; add --format jsonl or --format csv")
    intake = Intake.open(settings())
    progress = Progress(files.count_lines(path), f"importing {path.name}")
    rejected: list[tuple[int, str]] = []
    outcomes = {"submitted": 0, "waiting": 0, "duplicate": 0}
    batch: list[Any] = []

    def flush() -> None:
        for receipt in intake.receive_posts(batch):
            outcomes[receipt.outcome] += 1
        batch.clear()

    try:
        for record in files.read_posts(path, args.channel, fmt):
            if record.post is None:
                rejected.append((record.line, record.reason or "not a post"))
            else:
                batch.append(record.post)
                if len(batch) >= IMPORT_BATCH:
                    flush()
            progress.update(record.line)
        flush()
    except files.UnreadableFile as exc:
        raise CliError(str(exc)) from None
    finally:
        intake.store.engine.dispose()
    progress.close()
    imported = outcomes["submitted"] + outcomes["waiting"]
    print(f"imported: {imported} ({outcomes['submitted']} submitted as complaints, "
          f"{outcomes['waiting']} waiting for an operator: kesah posts waiting)")
    print(f"duplicates: {outcomes['duplicate']} (already taken in; nothing created)")
    print(f"rejected: {len(rejected)}")
    for line, reason in rejected:
        print(f"  line {line}: {reason}")
    if rejected:
        print(f"kesah: {len(rejected)} line(s) of {path.name} were rejected; fix them and import the file again "
              "(what was imported is skipped as duplicates)", file=sys.stderr)
        return 1
    return 0


def list_waiting(args: argparse.Namespace) -> int:
    from .store import Intake

    intake = Intake.open(settings())
    waiting = intake.waiting_posts(args.limit)
    if not waiting:
        print("no posts are waiting")
    for post in waiting:
        needs = " and ".join(n for n, v in (("kind", post.kind), ("kelurahan", post.kelurahan)) if v is None)
        excerpt = " ".join(post.text.split())
        excerpt = excerpt if len(excerpt) <= 100 else excerpt[:99] + "…"
        print(f"{post.post_id}  {post.channel}  {post.received_at[:16].replace('T', ' ')} UTC  needs {needs}")
        print(f"  text: {excerpt}")
        print(f"  kind: {post.kind or '?'} ({post.reasons.get('kind', '')})")
        print(f"  kelurahan: {post.kelurahan or '?'} ({post.reasons.get('kelurahan', '')})")
    return 0


def complete_post(args: argparse.Namespace) -> int:
    from .schemas import canonical_kelurahan
    from .store import Intake, PostProblem

    kelurahan = None
    if args.kelurahan:
        kelurahan = canonical_kelurahan(args.kelurahan)
        if kelurahan is None:
            from kesah import reference

            raise CliError(f"{args.kelurahan!r} is not a kelurahan of Bontang; one of: "
                           + ", ".join(sorted(reference.load().kelurahan)))
    intake = Intake.open(settings())
    try:
        accepted = intake.complete_post(args.post_id, args.kind, kelurahan)
    except PostProblem as exc:
        raise CliError(str(exc)) from None
    print(f"post {args.post_id} submitted as complaint {accepted.tracking_code} (/aduan/{accepted.tracking_code})")
    return 0


def erase(args: argparse.Namespace) -> int:
    from .domain import normalize_tracking_code
    from .store import Intake

    code = normalize_tracking_code(args.tracking_code)
    if code is None:
        raise CliError(f"{args.tracking_code!r} is not a tracking code (8 letters and digits, e.g. KJ4M-X7PA)")
    intake = Intake.open(settings())
    try:
        erasure = intake.erase(code)
    except LookupError:
        raise CliError(f"there is no complaint with tracking code {code}") from None
    if erasure.event is None:
        print(f"{code}: no contact data is held (anonymous, never given, or erased before); nothing to erase.")
    else:
        print(f"{code}: contact data erased; its key is destroyed and cannot be recovered. "
              f"Recorded as ContactErased at intake position {erasure.event.position}.")
    return 0


def open311(args: argparse.Namespace) -> int:
    from .store import Intake

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,39}", args.client):
        raise CliError("the client name must be 2-40 lower-case letters, digits or dashes")
    key = Intake.open(settings()).issue_api_key(args.client)
    print(key)
    return 0
