"""Operator commands for the public view: its canonical dump, and recovery by replay.

``kesah rebuild publicview [--until TIME|POSITION]`` folds the projection
again from publicview's own journal; ``kesah replay publicview --from
sources|archive [--until ...]`` first refills the journal from the owners'
logs (over RPC) or the broker's stream archive. Both are safe to re-run, show
a progress bar on stderr and close with a report on stdout: each owner's log
head, the journal's size, the projection's checkpoint, and the lag.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Callable, Iterator

from kesah.cli import CliError, settings

SOURCES = ("sources", "archive")


def register(sub: Any) -> None:
    p = sub.add_parser("dump", help="print a canonical dump of a projection")
    p.add_argument("what", choices=("publicview",))
    p.set_defaults(run=dump)

    until_help = ("the view as it stood then: a journal position, or an ISO 8601 time with its offset "
                  "(e.g. 2026-11-25T14:30:00+08:00); it stays pinned there until a rebuild without --until")
    p = sub.add_parser("rebuild", help="drop publicview's projection and fold it again from its journal")
    p.add_argument("what", choices=("publicview",))
    p.add_argument("--until", metavar="TIME|POSITION", help=until_help)
    p.set_defaults(run=rebuild_command)

    p = sub.add_parser("replay", help="refill publicview's journal from the owners' logs or the archive, "
                                      "then rebuild its projection")
    p.add_argument("what", choices=("publicview",))
    p.add_argument("--from", dest="origin", metavar="sources|archive", required=True,
                   help="sources: each owner's log over RPC; archive: the broker's stream archive")
    p.add_argument("--until", metavar="TIME|POSITION", help=until_help)
    p.set_defaults(run=replay_command)


def dump(args: argparse.Namespace) -> int:
    view = _open_whole(settings())
    out = sys.stdout
    with _damage_is_said(view):
        for line in view.dump():
            out.write(line)
            out.write("\n")
    return 0


def _open_whole(loaded: Any) -> Any:
    """publicview's database, opened only when its file is whole (opening an emptied file would make it anew)."""
    from . import storefile
    from .store import PublicView

    path = storefile.path_of(loaded)
    found = storefile.damage(path)
    if found is None:
        try:
            return PublicView.open(loaded)
        except Exception as exc:
            found = storefile.met(exc, path)
            if found is None:
                raise
    raise CliError(storefile.cannot_read(found))


@contextlib.contextmanager
def _damage_is_said(view: Any) -> Iterator[None]:
    """Damage met while reading the journal or projection: one sentence and what to run (exit 2)."""
    from kesah import database

    from . import storefile

    try:
        yield
    except Exception as exc:
        found = storefile.met(exc, database.sqlite_file(view.engine))
        if found is None:
            raise
        raise CliError(storefile.cannot_read(found)) from None


def _until(text: str | None) -> Any:
    from .recovery import parse_until

    try:
        return parse_until(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _bar(label: str, total: int = 0) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar (kesah.progress) fed by recovery's (done, total) callbacks."""
    from kesah.progress import Progress

    bar = Progress(total, label)

    def advance(done: int, known: int) -> None:
        if known and not bar.total:
            bar.total = known
        bar.update(done)

    return advance, bar.close


def rebuild_command(args: argparse.Namespace) -> int:
    from .recovery import rebuild

    until = _until(args.until)
    view = _open_whole(settings())
    try:
        with _damage_is_said(view):
            advance, close = _bar("rebuilding publicview")
            report = rebuild(view, until, advance)
            close()
            print(report.summary())
            print(closing_report(view))
    finally:
        view.engine.dispose()
    return 0


def replay_command(args: argparse.Namespace) -> int:
    from kesah import config

    from . import recovery, storefile
    from .store import PublicView

    if args.origin not in SOURCES:
        raise CliError(f"--from must be 'sources' or 'archive', not {args.origin!r}")
    until = _until(args.until)
    loaded = settings()
    total = 0
    heads: dict[str, Any] = {}
    sources: Any = None
    if args.origin == "sources":
        sources = recovery.Sources.over_rpc(loaded)
        try:
            heads = {source: sources.head(source) for source in config.OWNERS}
        except recovery.SourcesUnavailable as exc:
            raise CliError(f"{exc}: start the owners (and RabbitMQ), or use --from archive") from None
        total = sum(int(h["position"]) for h in heads.values())

    def events() -> Iterator[Any]:
        return recovery.from_sources(loaded, sources=sources) if args.origin == "sources" else _archive_events(loaded)

    path = storefile.path_of(loaded)
    found = storefile.damage(path)
    for attempt in (1, 2):
        _set_aside(found)
        view = None
        try:
            view = PublicView.open(loaded)
            return _replay(view, events(), args.origin, heads, total, until)
        except Exception as exc:
            # Damage deeper in the file than its first pages: a new database, and the replay again.
            found = storefile.met(exc, path)
            if found is None or attempt == 2:
                raise
        finally:
            if view is not None:
                view.engine.dispose()
    raise AssertionError("unreachable")


def _set_aside(found: Any) -> None:
    """Move a damaged file aside before replaying into a new one, and say so in the report."""
    from kesah import database

    if found is None:
        return
    target = database.move_aside(found.path, found.identity)
    where = f"moved aside to {target}" if target else "already moved aside by publicview's worker"
    print(f"{found.summary()}: {where}; replaying into a new database")


def _replay(view: Any, events: Iterator[Any], origin: str, heads: dict[str, Any], total: int, until: Any) -> int:
    from . import recovery

    for source, head in heads.items():
        view.record_source_head(source, int(head["position"]), head["hash"])
    refused: list[recovery.Refusal] = []
    advance, close = _bar(f"refilling publicview's journal from {origin}", total)
    try:
        journaled = recovery.refill(view, events, advance, refused=refused)
    except recovery.SourcesUnavailable as exc:
        raise CliError(f"{exc}; what was journaled stays: run the same command again") from None
    close()
    print(f"journaled {journaled} event(s) the journal lacked ({origin})")
    advance, close = _bar("rebuilding publicview")
    report = recovery.rebuild(view, until, advance)
    close()
    print(report.summary())
    print(closing_report(view))
    for refusal in refused:
        print(f"REFUSED {refusal}")
    if refused:
        print(f"{len(refused)} event(s) refused: not journaled (see 'kesah verify all')")
        return 1
    return 0


def _archive_events(loaded: Any) -> Iterator[Any]:
    try:
        from kesah import archive
    except ModuleNotFoundError as exc:
        if exc.name != "kesah.archive":
            raise
        raise CliError("the archive reader (kesah/archive.py) is not installed in this release: "
                       "use --from sources") from None
    return archive.events(loaded)


def closing_report(view: Any) -> str:
    """Each owner's log head, what the journal holds of it, the journal's size, checkpoint and lag."""
    fresh = view.freshness()
    lines = [f"{'source':<10} {'log head':>9} {'journaled':>9} {'lag':>6}  head asked at"]
    for s in fresh["sources"]:
        head = "?" if s["head"] is None else str(s["head"])
        lag = "?" if s["lag"] is None else str(s["lag"])
        lines.append(f"{s['source']:<10} {head:>9} {s['received']:>9} {lag:>6}  {s['checked_at'] or 'never'}")
    lines.append(f"journal: {fresh['journal']} events; projection checkpoint {fresh['checkpoint']} "
                 f"(projection lag {fresh['projection_lag']})"
                 + (f"; PINNED at {fresh['pinned']}: new events are not shown until "
                    "'kesah rebuild publicview' without --until" if fresh["pinned"] else ""))
    return "\n".join(lines)
