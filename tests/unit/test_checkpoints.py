"""A saved checkpoint proves a log's past: authentic, and nothing before it changed."""

from __future__ import annotations

import dataclasses
import uuid

from kesah import checkpoints, signing
from kesah.contracts import RecordedEvent
from kesah.eventstore import Head

from .events import SIGNERS, keyring
from .test_verify import log_of, seal


def checkpointed(log: list[RecordedEvent]) -> tuple[list[RecordedEvent], checkpoints.Checkpoint]:
    head = log[-1]
    new = checkpoints.new_checkpoint("intake", Head(head.position, head.hash))
    draft = RecordedEvent(position=head.position + 1, event_id=new.event_id, source="intake", type=new.type,
                          version=1, stream_id=new.stream_id, stream_version=1, occurred_at=new.occurred_at,
                          causation_id=None, correlation_id=new.correlation_id, payload=new.payload,
                          prev_hash=head.hash, hash="", key_id="", signature="")
    event = seal(draft, SIGNERS["intake"])
    published = checkpoints.publication(event, keyring())
    return log + [event], checkpoints.Checkpoint.from_publication(published)


def test_a_checkpoint_still_verifies_after_more_events_and_fails_when_an_old_one_goes() -> None:
    log, checkpoint = checkpointed(log_of(5))
    assert checkpoint.authenticate(keyring()) is None and checkpoint.position == 5
    longer = log + log_of(8)[6:]  # (positions beyond it are never read)
    assert checkpoints.audit(checkpoint, longer, keyring()).ok
    report = checkpoints.audit(checkpoint, log[:1] + log[2:], keyring())
    assert not report.ok and (report.log.problem.position, report.log.problem.kind) == (2, "missing")
    assert "FAILED" in report.summary()


def test_a_forged_checkpoint_is_not_authentic() -> None:
    log, checkpoint = checkpointed(log_of(3))
    stranger = signing.Signer.generate("intake")
    forged = dataclasses.replace(checkpoint.event, key_id=stranger.key_id,
                                 signature=stranger.sign(checkpoint.event.hash))
    assert "is not a key of intake" in checkpoints.Checkpoint(
        "intake", 3, checkpoint.hash, checkpoint.time, forged, None).authenticate(keyring())


def test_withheld_payloads_are_checked_by_signature_and_links_only() -> None:
    log, checkpoint = checkpointed(log_of(4))
    public = [checkpoints.redacted(dataclasses.replace(e, payload={})) if e.position == 2 else e for e in log]
    assert checkpoints.audit(checkpoint, public, keyring()).ok
    resigned = seal(dataclasses.replace(public[1], event_id=str(uuid.uuid4())), signing.Signer.generate("intake"))
    public[1] = checkpoints.redacted(resigned)
    assert not checkpoints.audit(checkpoint, public, keyring()).ok
