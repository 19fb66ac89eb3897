"""Verifying a log: positions, hash chain, signatures and schema, streaming.

``check_log`` walks one source's events in position order, holding only the
event in hand and the next one, so memory stays flat however long the log.
It stops at the first bad position and says what is wrong there:

- ``changed``: the event's content does not match the hash its owner signed;
- ``missing``: a position is absent (deleted), or the events after a deleted
  one were renumbered to hide the gap;
- ``inserted``: a row its owner never wrote: it is not signed by the owner's
  key and the chain runs around it (or it sits at the head, appended by
  someone without the key);
- ``reordered``: genuine events stand at each other's positions;
- ``bad signature``: the content is what the chain records (or the chain
  around it is broken too), but the signature is not the owner's: another
  key, or no valid signature at all;
- ``schema``: a signed, intact event whose payload does not satisfy its
  contract.

The order of checks matters: a moved event still carries a valid signature
over its original hash, so "not intact but authentic" points at a moved or
edited row, and "not authentic" at a row someone else wrote. To tell a moved
event from an edited one, the verifier asks the store (``successors``) for
the row that really follows the last good hash; that one lookup happens only
when something is already wrong.

``Anchor`` lets a running service re-check a prefix it verified before
without repeating the signature checks: the chain recomputed over the stored
rows must reach the anchored hash, and a digest of the prefix's signatures
must be unchanged. The CLI always verifies everything.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa

from . import contracts, database, signing
from .contracts import RecordedEvent
from .eventstore import EventStore, Head, events as events_table, row_to_event

CHANGED = "changed"
MISSING = "missing"
INSERTED = "inserted"
REORDERED = "reordered"
BAD_SIGNATURE = "bad signature"
SCHEMA = "schema"
KINDS = (CHANGED, MISSING, INSERTED, REORDERED, BAD_SIGNATURE, SCHEMA)

# How far a renumbering after a deletion is looked for (positions shifted down by up to this).
RENUMBER_SEARCH = 64
PAUSE_EVERY = 200
BATCH = 256


@dataclass(frozen=True)
class Problem:
    position: int
    kind: str
    detail: str
    event_id: str | None = None
    event_type: str | None = None

    def describe(self) -> str:
        about = f" (event {self.event_id}, {self.event_type})" if self.event_id else ""
        return f"position {self.position}: {self.kind}{about}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail,
                "event_id": self.event_id, "event_type": self.event_type}


@dataclass(frozen=True)
class Anchor:
    """A prefix verified before: its last position, that event's hash, a digest of its signatures."""

    position: int
    hash: str
    seal: str


@dataclass
class LogReport:
    name: str
    checked: int = 0
    head: Head = field(default_factory=lambda: Head(0, signing.GENESIS_HASH))
    problem: Problem | None = None
    anchor: Anchor | None = None
    seconds: float = 0.0
    # The anchored prefix no longer matches as a whole: verify again from scratch to find where.
    unsealed: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.unsealed

    def summary(self) -> str:
        if self.problem is not None:
            return f"{self.name}: FAILED at {self.problem.describe()}"
        if self.unsealed:
            return f"{self.name}: FAILED: signatures of verified events changed"
        return f"{self.name}: ok, {self.checked} events, head {self.head.position} {self.head.hash[:16]}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "checked": self.checked,
                "head": {"position": self.head.position, "hash": self.head.hash},
                "problem": self.problem.to_json() if self.problem else None, "seconds": round(self.seconds, 3)}


Successors = Callable[[str], Iterable[RecordedEvent]]


def rehash(event: RecordedEvent, position: int) -> str:
    """The event's hash as it would be at another position (to recognise a moved event)."""
    body = event.hashed_body()
    body["position"] = position
    return signing.chain_hash(event.prev_hash, body)


def _seal_update(seal: Any, event: RecordedEvent) -> None:
    seal.update(f"{event.hash}:{event.key_id}:{event.signature}\n".encode("ascii", "replace"))


@dataclass(frozen=True)
class _Examined:
    intact: bool
    signature: str | None  # why the row is not its owner's, or None
    schema: str | None


def _signature_problem(event: RecordedEvent, source: str, keyring: signing.Keyring) -> str | None:
    """Why the row is not its owner's (wrong log, wrong owner, not the owner's signature), or None."""
    if event.source != source:
        return f"an event of {event.source} in the log of {source}"
    contract = contracts.CONTRACTS.get((event.type, event.version))
    if contract is not None and not contract.signed_by(source):
        return f"{event.type} is signed by {contract.source}, never by {source}"
    return keyring.verify(source, event.key_id, event.hash, event.signature)


def _schema_problem(event: RecordedEvent) -> str | None:
    if event.extra.get("redacted"):
        return None  # its payload is withheld: there is nothing to validate
    if (event.type, event.version) not in contracts.CONTRACTS:
        return f"unknown event type {event.type} v{event.version}"
    try:
        contracts.validate_payload(event.type, event.version, event.payload)
    except contracts.ContractError as exc:
        return str(exc)
    return None


def _intact(event: RecordedEvent) -> bool:
    # A redacted event (its payload withheld from the public) can show its signature and links only.
    return bool(event.extra.get("redacted")) or event.computed_hash() == event.hash


def _in_threads() -> bool:
    """Signatures are checked in a second thread (the crypto library releases the GIL), except
    under eventlet, whose threads are green."""
    patcher = sys.modules.get("eventlet.patcher")  # never import eventlet where nothing uses it
    return patcher is None or not patcher.is_monkey_patched("thread")


def _examined(events: Iterable[RecordedEvent], source: str, keyring: signing.Keyring,
              anchor: Anchor | None) -> Iterator[tuple[RecordedEvent, _Examined]]:
    """Each event with what is wrong with it on its own, in order, a batch at a time."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="verify-signatures") if _in_threads() else None
    iterator = iter(events)
    try:
        while True:
            batch = list(itertools.islice(iterator, BATCH))
            if not batch:
                return
            # Events of a prefix verified before (the anchor) are not checked for signature or schema again.
            fresh = [e for e in batch if anchor is None or e.position > anchor.position]

            def signatures(chosen: list[RecordedEvent] = fresh) -> list[str | None]:
                return [_signature_problem(e, source, keyring) for e in chosen]

            pending = pool.submit(signatures) if pool is not None else None
            intact = [_intact(e) for e in batch]
            schemas = {id(e): _schema_problem(e) for e in fresh}
            signed = dict(zip(map(id, fresh), pending.result() if pending is not None else signatures()))
            for event, whole in zip(batch, intact):
                yield event, _Examined(whole, signed.get(id(event)), schemas.get(id(event)))
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _problem(event: RecordedEvent, kind: str, detail: str, position: int | None = None) -> Problem:
    return Problem(event.position if position is None else position, kind, detail, event.event_id, event.type)


def _diagnose(
    event: RecordedEvent,
    following: RecordedEvent | None,
    prev_hash: str,
    found: _Examined,
    source: str,
    successors: Successors | None,
) -> Problem:
    """What is wrong at the first position that does not verify."""
    if found.signature:
        if following is not None and following.prev_hash == prev_hash:
            return _problem(event, INSERTED,
                            f"not written by {source} ({found.signature}); the next event follows the one before it")
        if following is None:
            return _problem(event, INSERTED,
                            f"the last event is not signed by {source} ({found.signature}): appended by someone "
                            "without the key, or re-signed")
        if following.prev_hash == event.hash and found.intact:
            return _problem(event, BAD_SIGNATURE, f"content as recorded, but {found.signature}")
        return _problem(event, BAD_SIGNATURE,
                        f"{found.signature}, and its content is not what the next event's link records")
    if not found.intact:
        if event.prev_hash == prev_hash:
            return _problem(event, CHANGED, "its content does not match the hash its owner signed")
        for candidate in successors(prev_hash) if successors else ():
            if candidate.position != event.position and rehash(candidate, event.position) == candidate.hash:
                return Problem(event.position, REORDERED,
                               f"the event of position {event.position} is stored at position {candidate.position}, "
                               f"and position {event.position} holds another event",
                               candidate.event_id, candidate.type)
        for shift in range(1, RENUMBER_SEARCH + 1):
            if rehash(event, event.position + shift) == event.hash:
                last = event.position + shift - 1
                gone = f"position {event.position}" if shift == 1 else f"positions {event.position}..{last}"
                return Problem(event.position, MISSING,
                               f"{gone} deleted and the events after renumbered to hide the gap "
                               f"(the event at {event.position} belongs at {event.position + shift})")
        return _problem(event, CHANGED, "its content does not match the hash its owner signed")
    if found.schema:
        return _problem(event, SCHEMA, found.schema)
    # Signed and intact but not the successor of the event before it: that one was replaced
    # by another signed event (a fork, or a copy from an old backup).
    return Problem(max(1, event.position - 1), CHANGED,
                   f"the event at position {event.position} does not follow it: the log was forked or "
                   "an event was replaced by another signed one")


def check_log(
    events: Iterable[RecordedEvent],
    source: str,
    keyring: signing.Keyring,
    *,
    name: str | None = None,
    successors: Successors | None = None,
    anchor: Anchor | None = None,
    expect: Head | None = None,
    pause: Callable[[], None] | None = None,
) -> LogReport:
    """Verify one source's log from position 1, in position order.

    ``expect``: a head known to have existed (a checkpoint, the last round's
    head); a log that no longer reaches it lost its tail.
    """
    started = time.monotonic()
    report = LogReport(name or source)
    examined = _examined(events, source, keyring, anchor)
    current = next(examined, None)
    expected, prev_hash = 1, signing.GENESIS_HASH
    seal = hashlib.sha256()
    while current is not None:
        following = next(examined, None)
        event, found = current
        if event.position != expected:
            if event.position > expected:
                gone = f"position {expected}" if event.position == expected + 1 else \
                    f"positions {expected}..{event.position - 1}"
                report.problem = Problem(expected, MISSING, f"{gone} absent; the log continues at {event.position}")
            else:
                report.problem = _problem(event, INSERTED, f"a second event at position {event.position}")
            break
        if not (found.intact and found.signature is None and found.schema is None and event.prev_hash == prev_hash):
            report.problem = _diagnose(event, following[0] if following else None, prev_hash, found, source,
                                       successors)
            break
        _seal_update(seal, event)
        if anchor is not None and event.position == anchor.position:
            if event.hash != anchor.hash:
                report.problem = _problem(event, CHANGED, "differs from the event verified here before")
                break
            if seal.hexdigest() != anchor.seal:
                report.unsealed = True
                break
        prev_hash = event.hash
        report.head = Head(event.position, event.hash)
        report.checked += 1
        expected += 1
        current = following
        if pause is not None and report.checked % PAUSE_EVERY == 0:
            pause()
    if report.problem is None and not report.unsealed:
        for known in (anchor, expect):
            if known is not None and report.head.position < known.position:
                first = report.head.position + 1
                report.problem = Problem(first, MISSING,
                                         f"the log ends at {report.head.position} but reached {known.position} before: "
                                         f"positions {first}..{known.position} were deleted")
                break
    if report.ok:
        report.anchor = Anchor(report.head.position, report.head.hash, seal.hexdigest())
    report.seconds = time.monotonic() - started
    return report


# --- one event received, against the copy's neighbours -------------------------------------

def _authentic(event: RecordedEvent, keyring: signing.Keyring) -> bool:
    from .contracts import ContractError, check_event

    try:
        check_event(event, keyring)
    except ContractError:
        return False
    return True


def link_problem(
    event: RecordedEvent,
    neighbours: Iterable[RecordedEvent],
    keyring: signing.Keyring,
) -> str | None:
    """Why a received event cannot belong to the log a copy already holds, or None.

    ``neighbours``: the copy's events of the same source at the event's
    position and the positions just before and after it. A genuine event
    always links to them; one that does not is a fork of the log (a replayed
    old backup, or events signed by a stolen key after the fact). A
    neighbour that is itself damaged proves nothing: the copy's own check
    names it, and the received event is not blamed for it.
    """
    for other in neighbours:
        if other.event_id == event.event_id or other.source != event.source:
            continue
        if other.position == event.position:
            clash = f"position {event.position} of {event.source}'s log already holds event {other.event_id}"
        elif other.position == event.position - 1 and other.hash != event.prev_hash:
            clash = f"its link does not match the hash of the event at position {other.position} of {event.source}'s log"
        elif other.position == event.position + 1 and other.prev_hash != event.hash:
            clash = f"the event at position {other.position} of {event.source}'s log does not link to it"
        else:
            continue
        if _authentic(other, keyring):  # only a signed, intact neighbour proves a fork (checked on a clash only)
            return f"hash chain broken: {clash} (a fork of the log)"
    return None


# --- an owner's store ------------------------------------------------------------------

def store_successors(store: EventStore) -> Successors:
    def successors(prev_hash: str) -> list[RecordedEvent]:
        with database.reading(store.engine) as conn:
            rows = conn.execute(sa.select(events_table).where(events_table.c.prev_hash == prev_hash)).all()
        return [row_to_event(r) for r in rows]

    return successors


def verify_store(
    store: EventStore,
    keyring: signing.Keyring,
    *,
    anchor: Anchor | None = None,
    expect: Head | None = None,
    pause: Callable[[], None] | None = None,
) -> LogReport:
    """Verify an owner's whole log (see ``recheck`` for the anchor)."""
    return recheck(lambda a: check_log(store.read(), store.source, keyring, successors=store_successors(store),
                                       anchor=a, expect=expect, pause=pause), anchor)


def recheck(run: Callable[[Anchor | None], LogReport], anchor: Anchor | None) -> LogReport:
    """Run a check with the anchor; when it finds anything, run it again in full.

    The anchored run skips signatures, so it can tell *that* something
    changed but not always *what*: the full run names it.
    """
    report = run(anchor)
    if anchor is not None and not report.ok:
        report = run(None)
    return report
