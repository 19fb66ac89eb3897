"""``kesah restore intake|routing|responses --from archive|publicview``: refill an owner's store.

An owner's log has two genuine copies outside its own database: the
broker's archive (``kesah.archive``) and publicview's journal. Restoring
copies the owner's events back verbatim — ids, positions, hashes and
signatures as the owner wrote them — into an empty store, or onto a store
that holds a prefix of the log (an old backup, a truncated file):

1. the store as it is must verify (``kesah.verify``); a store whose events
   do not verify is refused (move it aside and restore into an empty one);
2. from the copy, only the owner's genuine events are taken (owner, schema,
   hash and signature checked one by one; a forged event in the archive is
   skipped and counted), in position order, each published batch once;
3. ``EventStore.restore`` compares every position the store already holds
   with the copy (a store that disagrees is refused, nothing is written),
   then appends the rest, each event chained to the one before, in one
   transaction, without outbox rows (the events are on the broker already);
   with step 2 these are the checks of ``kesah verify``, made before the
   transaction commits;
4. the owner's own tables that follow from events are brought up to the
   restored log (``services/<owner>/restore.py``);
5. the whole store is verified again: that verdict closes the report.

Safe to re-run: a second run finds every position present and equal and
adds only what the copy has gained since.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from . import broker, config, contracts, signing
from .cli import CliError, settings
from .contracts import RecordedEvent
from .eventstore import EventStore, Head, RestoreError
from .progress import Progress

ORIGINS = ("archive", "publicview")
ORIGIN_NAMES = {"archive": "the broker's archive", "publicview": "publicview's journal"}


def register(sub: Any) -> None:
    p = sub.add_parser("restore", help="refill an owning service's store from the archive or publicview's journal")
    p.add_argument("target", choices=config.OWNERS, help="the owning service whose store is refilled")
    p.add_argument("--from", dest="origin", required=True, choices=ORIGINS,
                   help="the copy of its log: the broker's archive stream, or publicview's journal")
    p.set_defaults(run=restore_command)


@dataclass
class Copy:
    """What a copy of the log offered for one owner."""

    own: list[RecordedEvent] = field(default_factory=list)  # the owner's genuine events, by position, once each
    consumed: list[RecordedEvent] = field(default_factory=list)  # events of others the owner consumes
    read: int = 0  # events the copy offered, every source
    rejected: int = 0  # events claiming to be the owner's that fail their own checks (forged, damaged)
    first_rejected: str | None = None
    gap: int | None = None  # the first position the copy lacks while it has later ones

    @property
    def head(self) -> Head:
        return Head(self.own[-1].position, self.own[-1].hash) if self.own else Head(0, signing.GENESIS_HASH)


def consumes(owner: str, event: RecordedEvent) -> bool:
    """Whether the owner subscribes to this event (its inbox's bindings)."""
    return any(source == event.source and key in ("#", event.type)
               for source, key in broker.SUBSCRIPTIONS.get(owner, ()))


def collect(owner: str, events: Iterable[RecordedEvent], keyring: signing.Keyring) -> Copy:
    """Sort a copy's events: the owner's genuine ones in position order, and what it consumes.

    A forged event (not the owner's signature, or content that does not
    match its hash) is counted and left out; the genuine one at that
    position is taken wherever it comes. Re-published duplicates count once.
    """
    copy = Copy()
    by_position: dict[int, RecordedEvent] = {}
    seen_consumed: set[str] = set()
    for event in events:
        copy.read += 1
        if event.source == owner:
            try:
                contracts.check_event(event, keyring)
            except contracts.ContractError as exc:
                copy.rejected += 1
                copy.first_rejected = copy.first_rejected or f"position {event.position}: {exc}"
                continue
            known = by_position.get(event.position)
            if known is not None and known.hash != event.hash:
                # Two genuinely signed events at one position: the owner's log was forked. Not ours to choose.
                raise CliError(f"{owner}'s copy holds two different signed events at position {event.position} "
                               f"({known.event_id} and {event.event_id}); restore from the other copy")
            by_position[event.position] = event
        elif consumes(owner, event) and event.event_id not in seen_consumed:
            try:
                contracts.check_event(event, keyring)
            except contracts.ContractError:
                continue  # a forged event another owner never wrote: the owner never handled it either
            seen_consumed.add(event.event_id)
            copy.consumed.append(event)
    for position in sorted(by_position):
        if position != len(copy.own) + 1:
            copy.gap = len(copy.own) + 1
            break
        copy.own.append(by_position[position])
    return copy


def _read_archive(loaded: config.Settings, owner: str) -> Iterator[RecordedEvent]:
    from . import archive

    try:
        yield from archive.events(loaded)
    except Exception as exc:
        import pika.exceptions

        if isinstance(exc, (pika.exceptions.AMQPError, OSError)):
            raise CliError(f"cannot read the archive from RabbitMQ ({exc.__class__.__name__}: {exc})") from None
        raise


def _read_journal(loaded: config.Settings, owner: str) -> Iterator[RecordedEvent]:
    from services.publicview import integrity
    from services.publicview.store import PublicView

    from .integrity_commands import Copies

    if not Copies(loaded).exists("publicview"):
        raise CliError(f"publicview's database does not exist ({loaded.database_url('publicview')}): "
                       "restore from the archive")
    view = PublicView.open(loaded)
    try:
        for source in config.OWNERS:
            yield from integrity.read_source(view, source)
    finally:
        view.engine.dispose()


READERS: dict[str, Callable[[config.Settings, str], Iterator[RecordedEvent]]] = {
    "archive": _read_archive,
    "publicview": _read_journal,
}


def _counting(events: Iterable[RecordedEvent], progress: Progress) -> Iterator[RecordedEvent]:
    for event in events:
        progress.advance()
        yield event


def open_store(loaded: config.Settings, owner: str) -> EventStore:
    """The owner's store without its key (restoring signs nothing), at the code's schema."""
    from . import database, schema

    store = EventStore(database.create_engine(loaded.database_url(owner)), owner, None)
    schema.prepare(store.engine, owner)
    return store


def restore_command(args: argparse.Namespace) -> int:
    from . import stores, verify

    loaded = settings()
    owner, origin = args.target, args.origin
    where = ORIGIN_NAMES[origin]
    keyring = stores.keyring(loaded)
    store = open_store(loaded, owner)
    try:
        before = verify.verify_store(store, keyring)
        if not before.ok:
            wrong = before.problem.describe() if before.problem else "signatures changed"
            raise CliError(f"{owner}'s store holds events that do not verify ({wrong}): "
                           f"move the database aside and restore into an empty one")

        reading = Progress(0, f"reading {where}")
        copy = collect(owner, _counting(READERS[origin](loaded, owner), reading), keyring)
        reading.close()

        writing = Progress(len(copy.own), f"restoring {owner}")
        try:
            restored = store.restore(_counting(copy.own, writing), publish=False)
        except RestoreError as exc:
            if "differs from the stored event" in str(exc):
                raise CliError(f"{owner}'s store holds events that disagree with {where} ({exc}): nothing was "
                               f"written; move the database aside and restore into an empty one") from None
            raise CliError(f"{where} does not hold an unbroken chain of {owner}'s log ({exc}): nothing was "
                           f"written; restore from the other copy") from None
        writing.close()

        tables = importlib.import_module(f"services.{owner}.restore").rebuild(store, copy.consumed)
        after = verify.verify_store(store, keyring)
    finally:
        store.engine.dispose()

    print(f"{owner} restored from {where}")
    print(f"  {where}: {copy.read} event(s) read; {owner}'s log up to position {copy.head.position}"
          + (f" (hash {copy.head.hash[:16]})" if copy.head.position else ""))
    if copy.rejected:
        print(f"  skipped {copy.rejected} event(s) claiming to be {owner}'s that fail their checks "
              f"(first: {copy.first_rejected})")
    if copy.gap is not None:
        print(f"  {where} lacks position {copy.gap} of {owner}'s log; events after it cannot be chained "
              f"(restore from the other copy)")
    print(f"  store before: position {before.head.position}; restored {restored} event(s); "
          f"store head now position {after.head.position}")
    print(f"  {tables}")
    print(f"  chain: {after.summary()}")
    if after.head.position > copy.head.position:
        print(f"  the store is ahead of {where} by {after.head.position - copy.head.position} event(s) "
              "(not yet relayed or journaled)")
    ok = after.ok and copy.gap is None
    print("restore complete" if ok else "restore INCOMPLETE")
    return 0 if ok else 1


def causal_groups(events: Iterable[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    """Events by complaint (correlation id), each group in causal order."""
    from .lifecycle import causal_order

    groups: dict[str, list[RecordedEvent]] = {}
    for event in events:
        groups.setdefault(event.correlation_id, []).append(event)
    return {key: causal_order(group) for key, group in groups.items()}


def mark_handled(conn: Any, consumer: str, consumed: Iterable[RecordedEvent]) -> int:
    """Tracking rows for consumed events the rebuilt tables cover (a redelivery then changes nothing)."""
    import sqlalchemy as sa

    from .eventstore import handled

    done = set(conn.execute(sa.select(handled.c.event_id).where(handled.c.consumer == consumer)).scalars())
    rows = [{"consumer": consumer, "event_id": e.event_id} for e in consumed if e.event_id not in done]
    if rows:
        conn.execute(handled.insert(), rows)
    return len(rows)
