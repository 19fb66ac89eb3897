from __future__ import annotations

import pytest

from kesah import contracts
from kesah.contracts import ContractError, RecordedEvent, check_event

from .events import SIGNERS, complaint_events, keyring


def test_a_genuine_event_passes_every_check() -> None:
    for event in complaint_events():
        check_event(RecordedEvent.from_message(event.to_message()), keyring())


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m: m["payload"].update(title="Diubah"), "hash does not match"),
        (lambda m: m.update(source="routing"), "must come from intake"),
        (lambda m: m.update(type="Unknown"), "unknown event type"),
        (lambda m: m["payload"].update(kind="protes"), "payload invalid"),
        (lambda m: m.update(signature=SIGNERS["intake"].sign("00" * 32)), "signature does not match"),
        (lambda m: m.update(key_id=SIGNERS["routing"].key_id), "is not a key of intake"),
    ],
)
def test_what_a_receiver_refuses_and_why(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    message = complaint_events()[0].to_message()
    message["payload"] = dict(message["payload"])
    change(message)
    with pytest.raises(ContractError, match=reason):
        check_event(RecordedEvent.from_message(message), keyring())


def test_an_envelope_missing_fields_is_refused() -> None:
    message = complaint_events()[0].to_message()
    del message["hash"]
    with pytest.raises(ContractError, match="envelope invalid"):
        RecordedEvent.from_message(message)
    with pytest.raises(ContractError):
        RecordedEvent.from_message(["not", "an", "object"])


def test_a_foreign_key_that_re_signs_a_changed_event_is_refused() -> None:
    from kesah import signing

    message = complaint_events()[0].to_message()
    message["payload"] = {**message["payload"], "title": "Diubah penyusup"}
    intruder = signing.Signer.generate("intake")
    forged = RecordedEvent(**{**message, "hash": "", "signature": ""})
    digest = forged.computed_hash()
    forged = RecordedEvent(**{**message, "hash": digest, "signature": intruder.sign(digest), "key_id": intruder.key_id})
    with pytest.raises(ContractError, match="is not a key of intake"):
        check_event(forged, keyring())


def test_upcasting_brings_old_versions_to_the_latest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(contracts.LATEST, "ComplaintSubmitted", 2)
    monkeypatch.setitem(contracts.UPCASTERS, ("ComplaintSubmitted", 1), lambda p: {**p, "channel_detail": None})
    version, payload = contracts.upcast("ComplaintSubmitted", 1, {"title": "x"})
    assert version == 2 and payload == {"title": "x", "channel_detail": None}
