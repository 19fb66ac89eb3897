from __future__ import annotations

import datetime as dt

import pika

from kesah.deadletters import identify, reason_of


def test_the_reason_comes_from_the_consumer_or_from_the_broker() -> None:
    assert reason_of({"x-kesah-reason": "signature does not match"}) == "signature does not match"
    death = {"x-death": [{"reason": "delivery_limit", "queue": "publicview.inbox", "count": 1,
                          "time": dt.datetime(2026, 11, 25, 8, 0)}]}
    assert reason_of(death) == ("its handler failed on every delivery: "
                                "the delivery limit of publicview.inbox was reached")
    assert reason_of({"x-death": [{"reason": "expired", "queue": "q"}]}) == "dead-lettered by the broker from q (expired)"
    assert reason_of({}) == "no reason recorded"


def test_a_dead_letter_is_known_by_its_event_id_else_its_message_id_else_its_digest() -> None:
    body = b'{"event_id": "7d0c1a3e-0000-4000-8000-000000000001", "type": "ComplaintSubmitted"}'
    assert identify(body, pika.BasicProperties())[0] == "7d0c1a3e-0000-4000-8000-000000000001"
    assert identify(b"not json", pika.BasicProperties(message_id="m-1"))[0] == "m-1"
    assert identify(b"not json", pika.BasicProperties())[0].startswith("sha-")
