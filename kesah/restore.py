"""``kesah restore intake|routing|responses --from archive|publicview``: refill an owner's store.

An owner's log has two genuine copies outside its own database: the
broker's archive (``kesah.archive``) and publicview's journal. Restoring
copies the owner's events back verbatim — ids, positions, hashes and
signatures as the owner wrote them — into an empty store, or onto a store
that holds a prefix of the log (an old backup, a truncated file):

1. the store as it is must verify (``kesah.verify``); a store whose events
   do not verify is refused (move it aside and restore into an empty one);
2. from the copy, the owner's events are taken in position order, one per
   position (where a forged event competes with the genuine one, the
   genuine one; re-published batches once);
3. the copy's chain is verified (``kesah.verify.check_log``: positions,
   hashes, chain, signatures, schema) before anything is written, with the
   store's verified prefix as its anchor: a copy that differs from the
   store there is refused, nothing is written; a copy that fails further on
   gives only its verified prefix;
4. ``EventStore.restore`` inserts the events verbatim after the store's
   head, each chained to the one before, in one transaction, without outbox
   rows (the events are on the broker already);
5. the owner's own tables that follow from events are brought up to the
   restored log (``services/<owner>/restore.py``);
6. the report names the copy's head, what was restored, the verifier's
   verdict and the store's head now.

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


def genuine(event: RecordedEvent, keyring: signing.Keyring) -> str | None:
    """Why the event is not what its source wrote (content, owner, signature), or None.

    The payload's schema is left to the verifier: it is what costs, and an
    event its owner signed passed it when it was appended.
    """
    if event.computed_hash() != event.hash:
        return "its content does not match its hash"
    contract = contracts.CONTRACTS.get((event.type, event.version))
    if contract is None or not contract.signed_by(event.source):
        return f"{event.source} never signs {event.type} v{event.version}"
    return keyring.verify(event.source, event.key_id, event.hash, event.signature)


def collect(owner: str, events: Iterable[RecordedEvent], keyring: signing.Keyring) -> Copy:
    """Sort a copy's events: the owner's in position order, one per position, and what it consumes.

    Where the copy offers different events for one position (a forged one
    published straight to the broker lands in the archive too), the one that
    is genuine is taken and the others are counted; two genuine ones are a
    fork, and not ours to choose. A lone event is taken as it is: the
    verifier judges the chain. Re-published duplicates count once.
    """
    copy = Copy()
    by_position: dict[int, list[RecordedEvent]] = {}
    seen_consumed: set[str] = set()
    for event in events:
        copy.read += 1
        if event.source == owner:
            offered = by_position.setdefault(event.position, [])
            if event not in offered:  # every field compared: a tampered copy may keep the genuine hash
                offered.append(event)
        elif consumes(owner, event) and event.event_id not in seen_consumed:
            if genuine(event, keyring) is None:  # a forged event of another owner was never handled either
                seen_consumed.add(event.event_id)
                copy.consumed.append(event)
    for position in sorted(by_position):
        if position != len(copy.own) + 1:
            copy.gap = len(copy.own) + 1
            break
        offered = by_position[position]
        if len(offered) > 1:
            problems = [genuine(e, keyring) for e in offered]
            kept = [e for e, problem in zip(offered, problems) if problem is None]
            for problem in filter(None, problems):
                copy.rejected += 1
                copy.first_rejected = copy.first_rejected or f"position {position}: {problem}"
            if len(kept) > 1:
                raise CliError(f"{owner}'s copy holds two different signed events at position {position} "
                               f"({kept[0].event_id} and {kept[1].event_id}); restore from the other copy")
            offered = kept or offered
        copy.own.append(offered[0])
    return copy


def _read_archive(loaded: config.Settings, owner: str) -> Iterator[RecordedEvent]:
    from . import archive

    try:
        yield from archive.events(loaded)
    except Exception as exc:
        import pika.exceptions

        if isinstance(exc, (pika.exceptions.AMQPError, OSError)):
            why = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
            raise CliError(f"cannot read the archive: RabbitMQ does not answer ({why}); start it, or restore "
                           "from publicview") from None
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

        # The copy's chain is verified before anything is written; the store's verified prefix is
        # its anchor (re-hashed, not re-signed): where the copy differs from it, they disagree.
        anchor = before.anchor if 0 < before.head.position <= copy.head.position else None
        verdict = verify.check_log(copy.own, owner, keyring, name=f"{owner} in {where}", anchor=anchor)
        if not verdict.ok and (verdict.problem is None or verdict.problem.position <= before.head.position):
            wrong = verdict.problem.describe() if verdict.problem else "signatures differ"
            raise CliError(f"{owner}'s store and {where} disagree ({wrong}): nothing was written; move the "
                           f"database aside and restore into an empty one, or restore from the other copy")
        accepted = copy.own[:verdict.head.position]

        writing = Progress(len(accepted), f"restoring {owner}")
        try:
            restored = store.restore(_counting(accepted, writing), publish=False)
        except RestoreError as exc:
            raise CliError(f"{owner}'s store holds events that disagree with {where} ({exc}): nothing was "
                           f"written; move the database aside and restore into an empty one") from None
        writing.close()

        tables = importlib.import_module(f"services.{owner}.restore").rebuild(store, copy.consumed)
        after = store.head()
    finally:
        store.engine.dispose()

    print(f"{owner} restored from {where}")
    print(f"  {where}: {copy.read} event(s) read; {owner}'s log up to position {copy.head.position}"
          + (f" (hash {copy.head.hash[:16]})" if copy.head.position else ""))
    if copy.rejected:
        print(f"  skipped {copy.rejected} event(s) claiming to be {owner}'s that are not genuine "
              f"(first: {copy.first_rejected})")
    if copy.gap is not None:
        print(f"  {where} lacks position {copy.gap} of {owner}'s log; events after it cannot be chained "
              f"(restore from the other copy)")
    print(f"  verified before writing: {verdict.summary()}")
    if not verdict.ok:
        print(f"  only positions 1..{verdict.head.position} were taken; restore from the other copy for the rest")
    print(f"  store before: position {before.head.position}; restored {restored} event(s); "
          f"store head now position {after.position} ({after.hash[:16]})")
    print(f"  {tables}")
    if after.position > copy.head.position:
        print(f"  the store is ahead of {where} by {after.position - copy.head.position} event(s) "
              "(not yet relayed or journaled)")
    ok = verdict.ok and copy.gap is None
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
