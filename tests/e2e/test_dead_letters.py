"""Events a consumer will not or cannot handle end in its dead-letter queue; `kesah dlq` deals with them."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pika

from kesah import broker, signing
from kesah.contracts import RecordedEvent
from tests.support.intruder import signed_by, signed_by_stranger
from tests.support.system import System, wait_until


def publish(system: System, exchange: str, routing_key: str, event: RecordedEvent) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(system.settings.amqp_uri))
    connection.channel().basic_publish(exchange, routing_key, json.dumps(event.to_message()).encode(),
                                       pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()


def dead_letters(system: System) -> list[dict]:
    code, output = system.kesah("dlq", "list", "--json")
    assert code == 0, output
    return json.loads(output)


def test_forged_and_unhandleable_events_are_dead_lettered_listed_redriven_and_dropped(system: System) -> None:
    genuine = system.submit()
    system.routed(genuine["tracking_code"])
    submitted = system.events("intake", ["ComplaintSubmitted"])[0]

    # Valid JSON, a correct hash, the wrong key: it must never reach a projection.
    forged = signed_by_stranger(dataclasses.replace(
        submitted, event_id=str(uuid.uuid4()), position=999,
        payload={**submitted.payload, "tracking_code": "ACDE-FHJK", "title": "Palsu: pemerintah bubar"}))
    publish(system, "intake.events", "ComplaintSubmitted", forged)
    letters = wait_until(lambda: [d for d in dead_letters(system) if d["id"] == forged.event_id
                                  and d["consumer"] == "publicview"], 30, "the forged event in the DLQ")
    assert f"key {signing.Signer.generate('x').key_id}" not in letters[0]["reason"]
    assert "is not a key of intake" in letters[0]["reason"]
    assert letters[0]["type"] == "ComplaintSubmitted" and letters[0]["where"] == "intake@999"
    assert system.public("ACDE-FHJK") is None
    assert "Palsu" not in system.http.get("/").text and "Palsu" not in system.http.get("/aduan").text
    assert forged.event_id not in system.http.get("/data/peristiwa.json").text  # never journaled either

    code, output = system.kesah("dlq", "show", forged.event_id, "--consumer", "publicview")
    assert code == 0
    shown = json.loads(output)
    assert shown["body"]["payload"]["title"] == "Palsu: pemerintah bubar"
    assert "x-kesah-dead-lettered-at" in shown["headers"]

    # Sent back, it is rejected again: still one copy, now marked as redriven once.
    code, output = system.kesah("dlq", "redrive", forged.event_id, "--consumer", "publicview")
    assert code == 0 and "1 dead letter(s) sent back" in output, output
    wait_until(lambda: [d for d in dead_letters(system) if d["id"] == forged.event_id
                        and d["consumer"] == "publicview"], 30, "the forged event back in the DLQ")
    code, output = system.kesah("dlq", "show", forged.event_id, "--consumer", "publicview")
    assert json.loads(output)["headers"]["x-kesah-redriven"] == 1
    assert system.public("ACDE-FHJK") is None

    # Signed by intake's own key, but a fork: position 1 of intake's log holds another event.
    # publicview holds every owner's chain, so it refuses it at once, saying why.
    intake_key = signing.load_signer(system.settings.keys_dir, "intake")
    fork = signed_by(intake_key, dataclasses.replace(submitted, event_id=str(uuid.uuid4()), payload={
        **submitted.payload, "title": "Cabang lain dari posisi 1"}))
    publish(system, "", broker.inbox_queue("publicview"), fork)
    letter = wait_until(lambda: [d for d in dead_letters(system) if d["id"] == fork.event_id], 30,
                        "the fork in the DLQ")[0]
    assert letter["consumer"] == "publicview"
    assert f"hash chain broken: position 1 of intake's log already holds event {submitted.event_id}" in \
        letter["reason"], letter
    assert system.public(submitted.payload["tracking_code"])["title"] == submitted.payload["title"]

    # Genuine-looking and in no conflict with the chain, but its handler fails on every delivery
    # (a second complaint with the first one's tracking code) until the broker dead-letters it:
    # the reason is the broker's (x-death).
    twin = str(uuid.uuid4())
    clash = signed_by(intake_key, dataclasses.replace(
        submitted, event_id=str(uuid.uuid4()), position=999, stream_id=twin, correlation_id=twin,
        payload={**submitted.payload, "complaint_id": twin, "title": "Kembaran dengan kode yang sama"}))
    publish(system, "", broker.inbox_queue("publicview"), clash)
    letter = wait_until(lambda: [d for d in dead_letters(system) if d["id"] == clash.event_id], 60,
                        "the unhandleable event in the DLQ")[0]
    assert letter["consumer"] == "publicview"
    assert "delivery limit of publicview.inbox" in letter["reason"], letter

    code, output = system.kesah("dlq", "drop", fork.event_id, clash.event_id, forged.event_id,
                                "--consumer", "publicview")
    assert code == 0, output
    assert {d["id"] for d in dead_letters(system) if d["consumer"] == "publicview"} == set()
    # The other consumers that got the forged submission still hold their copies.
    assert {d["consumer"] for d in dead_letters(system)} == {"routing", "responses"}
    code, output = system.kesah("dlq", "redrive", "--all")
    assert code == 0 and "2 dead letter(s) sent back" in output
    code, output = system.kesah("dlq", "redrive")
    assert code == 2 and "or --all" in output
