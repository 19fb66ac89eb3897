"""Signed checkpoints of an owner's log, and checking a saved one against a log later.

How they travel: a checkpoint is an event, ``LogCheckpointed``, that the owner
appends to its own log after a verification round found it intact (every
``KESAH_CHECKPOINT_INTERVAL`` seconds, when the log grew). It says "my log
from position 1 to ``position`` verified, and the event there has ``hash``";
its own signature is the owner's signature over that statement. Being an
event, it takes the ordinary path: outbox, relay, broker, the stream archive,
publicview's journal, which publishes the latest ones at ``/transparansi``.

An auditor saves one (``/transparansi/<source>-<position>.json``). Later,
``kesah audit FILE`` checks that the checkpoint is authentic and that the
log, as it is now, still holds exactly those events from 1 to ``position``:
nothing removed, changed, inserted or moved before it.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from . import signing, verify
from .contracts import ContractError, NewEvent, RecordedEvent, utc_now
from .eventstore import Head

CHECKPOINT = "LogCheckpointed"


def stream_of(source: str) -> str:
    return f"log:{source}"


def new_checkpoint(source: str, head: Head) -> NewEvent:
    event_id = str(uuid.uuid4())
    # Its own correlation: a checkpoint belongs to no complaint.
    return NewEvent(type=CHECKPOINT, stream_id=stream_of(source), payload={"position": head.position,
                    "hash": head.hash}, event_id=event_id, occurred_at=utc_now(), correlation_id=event_id)


# --- the published form -------------------------------------------------------------------------

def publication(event: RecordedEvent, keyring: signing.Keyring) -> dict[str, Any]:
    """A checkpoint as publicview publishes it: self-contained, with the owner's public key."""
    key = keyring.public_keys().get(event.source, {}).get(event.key_id)
    return {
        "source": event.source,
        "position": event.payload["position"],
        "hash": event.payload["hash"],
        "time": event.occurred_at,
        "key_id": event.key_id,
        "public_key": key,
        "event": event.to_message(),
    }


class CheckpointError(ValueError):
    """A saved checkpoint cannot be read or is not authentic; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    source: str
    position: int
    hash: str
    time: str
    event: RecordedEvent
    public_key: str | None

    @classmethod
    def from_publication(cls, data: Any) -> "Checkpoint":
        try:
            event = RecordedEvent.from_message(data["event"])
        except (KeyError, TypeError, ContractError) as exc:
            raise CheckpointError(f"not a checkpoint as /transparansi publishes it ({exc})") from None
        if event.type != CHECKPOINT:
            raise CheckpointError(f"the saved event is a {event.type}, not a {CHECKPOINT}")
        checkpoint = cls(event.source, int(event.payload.get("position", 0)), str(event.payload.get("hash", "")),
                         event.occurred_at, event, data.get("public_key"))
        if (data.get("source"), data.get("position"), data.get("hash")) != (
                checkpoint.source, checkpoint.position, checkpoint.hash):
            raise CheckpointError("the file's summary does not match its signed event")
        return checkpoint

    def authenticate(self, keyring: signing.Keyring) -> str | None:
        """None when the checkpoint is the owner's, signed by a key the keyring trusts; else why not."""
        from .contracts import check_event

        try:
            check_event(self.event, keyring)
        except ContractError as exc:
            return str(exc)
        if self.event.position <= self.position:
            return "the checkpoint stands before the position it vouches for"
        return None

    def own_key(self) -> signing.Keyring:
        """A keyring holding only the key saved with the checkpoint (when the file has it)."""
        ring = signing.Keyring()
        if self.public_key:
            ring.add(self.source, self.public_key)
        return ring


@dataclass
class AuditReport:
    checkpoint: Checkpoint
    log: verify.LogReport
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.log.ok

    def summary(self) -> str:
        c = self.checkpoint
        head = f"checkpoint {c.source}@{c.position} ({c.time})"
        if self.problem:
            return f"{head}: FAILED: {self.problem}"
        if not self.log.ok:
            assert self.log.problem is not None
            return f"{head}: FAILED: {c.source}'s log has changed before it: {self.log.problem.describe()}"
        return (f"{head}: ok: {c.source}'s log still holds the same {c.position} events "
                f"(and the checkpoint itself at {c.event.position}), unchanged")


def audit(checkpoint: Checkpoint, events: Iterable[RecordedEvent], keyring: signing.Keyring,
          successors: verify.Successors | None = None) -> AuditReport:
    """Check a log (its events from position 1, in order) against a saved checkpoint."""
    seen: dict[int, RecordedEvent] = {}
    last = checkpoint.event.position

    def upto() -> Iterator[RecordedEvent]:
        for event in itertools.takewhile(lambda e: e.position <= last, events):
            if event.position in (checkpoint.position, last):
                seen[event.position] = event
            yield event

    log = verify.check_log(upto(), checkpoint.source, keyring, name=checkpoint.source, successors=successors,
                           expect=Head(last, checkpoint.event.hash))
    report = AuditReport(checkpoint, log)
    if log.ok:
        vouched, itself = seen.get(checkpoint.position), seen.get(last)
        if vouched is None or vouched.hash != checkpoint.hash:
            report.problem = f"position {checkpoint.position} now holds another event than the checkpoint vouched for"
        elif itself is None or itself.hash != checkpoint.event.hash:
            report.problem = f"the checkpoint itself (position {last}) is no longer in the log"
    return report


def redacted(event: RecordedEvent) -> RecordedEvent:
    """An event whose payload is withheld (a confidential complaint): its signature and
    links can be checked, its content cannot."""
    return dataclasses.replace(event, extra={**event.extra, "redacted": True})
