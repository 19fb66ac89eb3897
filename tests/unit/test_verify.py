"""The verifier names the first bad position and what happened there, for every kind of intrusion."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from kesah import signing, verify
from kesah.contracts import RecordedEvent
from kesah.eventstore import Head

from .events import SIGNERS, keyring


def submitted_payload(i: int) -> dict:
    cid = str(uuid.UUID(int=i + 1))
    return {"complaint_id": cid, "tracking_code": "ACDE-FHJK", "kind": "keluhan", "title": f"Aduan nomor {i}",
            "body": "Jalan berlubang di depan sekolah.", "kelurahan": "Api-Api", "kecamatan": "Bontang Utara",
            "address": "Jl. Mawar", "visibility": "public", "channel": "web"}


def seal(event: RecordedEvent, signer: signing.Signer) -> RecordedEvent:
    """Hash and sign an event as ``signer`` would (the owner, or an intruder's key)."""
    draft = dataclasses.replace(event, hash="", signature="", key_id=signer.key_id)
    digest = draft.computed_hash()
    return dataclasses.replace(draft, hash=digest, signature=signer.sign(digest))


def log_of(n: int, source: str = "intake") -> list[RecordedEvent]:
    events, prev = [], signing.GENESIS_HASH
    for i in range(1, n + 1):
        payload = submitted_payload(i)
        draft = RecordedEvent(
            position=i, event_id=str(uuid.uuid4()), source=source, type="ComplaintSubmitted", version=1,
            stream_id=payload["complaint_id"], stream_version=1, occurred_at=f"2026-11-25T01:00:{i:02d}.000000Z",
            causation_id=None, correlation_id=payload["complaint_id"], payload=payload, prev_hash=prev,
            hash="", key_id="", signature="",
        )
        event = seal(draft, SIGNERS[source])
        events.append(event)
        prev = event.hash
    return events


def check(events: list[RecordedEvent], **kwargs) -> verify.LogReport:  # type: ignore[no-untyped-def]
    return verify.check_log(events, "intake", keyring(),
                            successors=lambda h: [e for e in events if e.prev_hash == h], **kwargs)


def at(event: RecordedEvent, position: int) -> RecordedEvent:
    return dataclasses.replace(event, position=position)


def test_a_genuine_log_verifies_and_gives_its_head() -> None:
    log = log_of(6)
    report = check(log)
    assert report.ok and report.checked == 6
    assert report.head == Head(6, log[-1].hash)
    assert check([]).ok


def changed(log):  # type: ignore[no-untyped-def]
    log[2] = dataclasses.replace(log[2], payload={**log[2].payload, "title": "Diubah oleh penyusup"})
    return log


def deleted(log):  # type: ignore[no-untyped-def]
    del log[2]
    return log


def deleted_and_renumbered(log):  # type: ignore[no-untyped-def]
    del log[2]
    return [at(e, i + 1) for i, e in enumerate(log)]


def inserted(log):  # type: ignore[no-untyped-def]
    forged = seal(dataclasses.replace(log[2], event_id=str(uuid.uuid4()), prev_hash=log[1].hash,
                                      payload=submitted_payload(99)), signing.Signer.generate("intake"))
    return log[:2] + [forged] + [at(e, e.position + 1) for e in log[2:]]


def appended(log):  # type: ignore[no-untyped-def]
    forged = seal(dataclasses.replace(log[-1], position=7, event_id=str(uuid.uuid4()), prev_hash=log[-1].hash,
                                      payload=submitted_payload(99)), signing.Signer.generate("intake"))
    return log + [forged]


def reordered(log):  # type: ignore[no-untyped-def]
    log[2], log[4] = at(log[4], 3), at(log[2], 5)
    return log


def resigned(log):  # type: ignore[no-untyped-def]
    edited = dataclasses.replace(log[2], payload={**log[2].payload, "title": "Ditandatangani ulang"})
    log[2] = seal(edited, signing.Signer.generate("intake"))
    return log


def resigned_only(log):  # type: ignore[no-untyped-def]
    stranger = signing.Signer.generate("intake")
    log[2] = dataclasses.replace(log[2], key_id=stranger.key_id, signature=stranger.sign(log[2].hash))
    return log


def foreign_source(log):  # type: ignore[no-untyped-def]
    routing = seal(dataclasses.replace(log[2], source="routing", prev_hash=log[1].hash), SIGNERS["routing"])
    return log[:2] + [routing] + [at(e, e.position + 1) for e in log[2:]]


@pytest.mark.parametrize("intrude, position, kind", [
    (changed, 3, verify.CHANGED),
    (deleted, 3, verify.MISSING),
    (deleted_and_renumbered, 3, verify.MISSING),
    (inserted, 3, verify.INSERTED),
    (appended, 7, verify.INSERTED),
    (reordered, 3, verify.REORDERED),
    (resigned, 3, verify.BAD_SIGNATURE),
    (resigned_only, 3, verify.BAD_SIGNATURE),
    (foreign_source, 3, verify.INSERTED),
])
def test_each_intrusion_is_named_with_its_position_and_kind(intrude, position, kind) -> None:  # type: ignore[no-untyped-def]
    report = check(intrude(log_of(6)))
    assert not report.ok
    assert (report.problem.position, report.problem.kind) == (position, kind), report.problem.describe()


def test_a_moved_event_is_named() -> None:
    log = log_of(6)
    report = check(reordered(list(log)))
    assert report.problem.event_id == log[2].event_id
    assert "stored at position 5" in report.problem.detail


def test_a_lost_tail_is_missing_when_a_later_head_was_known() -> None:
    log = log_of(6)
    assert check(log[:4]).ok
    report = check(log[:4], expect=Head(6, log[-1].hash))
    assert (report.problem.position, report.problem.kind) == (5, verify.MISSING)


def test_an_anchor_skips_signatures_but_still_catches_every_change() -> None:
    log = log_of(6)
    anchor = check(log[:4]).anchor
    assert anchor is not None and anchor.position == 4
    assert check(log, anchor=anchor).ok
    assert check(changed(list(log)), anchor=anchor).problem.kind == verify.CHANGED
    assert check(resigned_only(list(log)), anchor=anchor).unsealed
    assert check(log[:3], anchor=anchor).problem.kind == verify.MISSING


def test_a_payload_that_breaks_its_contract_is_a_schema_problem() -> None:
    log = log_of(3)
    broken = seal(dataclasses.replace(log[2], payload={**log[2].payload, "kind": "protes"}), SIGNERS["intake"])
    report = check(log[:2] + [broken])
    assert (report.problem.position, report.problem.kind) == (3, verify.SCHEMA)


def forked(event: RecordedEvent, **changes) -> RecordedEvent:  # type: ignore[no-untyped-def]
    """Another event signed by the owner's own key, standing where ``event`` stands."""
    return seal(dataclasses.replace(event, event_id=str(uuid.uuid4()), **changes), SIGNERS["intake"])


def test_a_received_event_must_link_to_the_neighbours_a_copy_holds() -> None:
    log = log_of(5)
    held = [log[1], log[3]]  # positions 2 and 4; 3 is in flight
    assert verify.link_problem(log[2], held, keyring()) is None
    assert verify.link_problem(log[2], [], keyring()) is None
    assert verify.link_problem(log[2], [log[2]], keyring()) is None  # itself, delivered again

    same_place = forked(log[2], payload=submitted_payload(99))
    assert "position 3 of intake's log already holds event" in verify.link_problem(same_place, [log[2]], keyring())
    wrong_link = forked(log[2], payload=submitted_payload(99), prev_hash="0" * 64)
    assert "does not match the hash of the event at position 2" in verify.link_problem(wrong_link, held, keyring())
    not_followed = forked(log[2], payload=submitted_payload(99))
    assert "the event at position 4 of intake's log does not link to it" in \
        verify.link_problem(not_followed, held, keyring())


def test_a_damaged_neighbour_does_not_blame_the_received_event() -> None:
    log = log_of(5)
    edited = dataclasses.replace(log[1], payload={**log[1].payload, "title": "Diubah oleh penyusup"}, hash="f" * 64)
    foreign = seal(dataclasses.replace(log[3], prev_hash="e" * 64), signing.Signer.generate("intake"))
    assert verify.link_problem(log[2], [edited, foreign], keyring()) is None
