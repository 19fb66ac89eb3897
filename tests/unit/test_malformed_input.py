"""What a body may hold before any face takes it: the values issue 13's fuzzing turned into 500s. Pure."""

from __future__ import annotations

import json
import time

import pytest

from kesah import http
from services.intake.channels import Malformed, iso_from_unix, meta, sign
from services.intake.channels.schema import POST, parse_time
from services.intake.channels.signed import SignedWebhook
from services.intake.schemas import SUBMISSION
from services.responses import auth

GOOD = {"kind": "keluhan", "title": "Jalan berlubang", "body": "Lubang besar di depan pasar.",
        "kelurahan": "Bontang Baru", "address": "Jl. Awang Long"}


@pytest.mark.parametrize("body, why", [
    (b'{"title": NaN}', "NaN bukan angka JSON"),
    (b'{"sent_at": Infinity}', "Infinity bukan angka JSON"),
    (b'[-Infinity]', "-Infinity bukan angka JSON"),
    (b'{"sent_at": 1e400}', "terlalu besar"),
    (b'{"sent_at": -1e400}', "terlalu besar"),
    (b'{"id": 1' + b"0" * 400 + b"}", "terlalu besar"),
    (b'{"title": "\\ud800"}', "surrogate"),
    (b'{"title": "ok \\uDFFF ok"}', "surrogate"),
    (b'{"\\ud800": "key"}', "surrogate"),
    (b'{"posts": [{"text": ["\\udc00"]}]}', "surrogate"),
    (b'{"title": "a\\u0000b"}', "NUL"),
    ('{"title": "\\ud800"}'.encode("utf-16"), "surrogate"),  # the escape in UTF-16 bytes
    (b"[" * 100_000, "bersarang"),
    (b'{"title": ', "JSON yang valid"),
    (b"\xff\xfe\xfa", "JSON yang valid"),
])
def test_bodies_that_are_not_json_text_are_refused_with_a_reason(body: bytes, why: str) -> None:
    with pytest.raises(http.NotJSON) as caught:
        http.parse_json(body)
    assert why in str(caught.value)


@pytest.mark.parametrize("body, value", [
    (b'{"title": "\\ud83d\\ude00 senyum"}', {"title": "\U0001F600 senyum"}),  # a pair is one character
    (b'{"title": "\\\\ud800"}', {"title": "\\ud800"}),  # an escaped backslash, then text
    (b'{"n": 1.5e308, "i": 9007199254740993}', {"n": 1.5e308, "i": 9007199254740993}),
    ('{"title": "Lampu mati"}'.encode("utf-16"), {"title": "Lampu mati"}),
])
def test_json_text_is_read_as_json(body: bytes, value: object) -> None:
    assert http.parse_json(body) == value


def test_a_submission_form_with_a_lone_surrogate_or_nul_gets_a_field_error() -> None:
    assert SUBMISSION.validate({**GOOD, "title": "Jalan \ud800 berlubang"}) == {
        "title": ["Teks berisi karakter Unicode yang tidak sah (surrogate tanpa pasangan)."]}
    assert "body" in SUBMISSION.validate({**GOOD, "body": "Lubang besar\x00 di depan pasar."})
    assert SUBMISSION.validate(GOOD) == {}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1e308, -1e308, 253402300800])
def test_no_moment_is_no_time(value: float) -> None:
    assert iso_from_unix(value) is None


def test_a_moment_is_a_time() -> None:
    assert iso_from_unix(0) == "1970-01-01T00:00:00.000000Z"
    assert iso_from_unix(253402300799) == "9999-12-31T23:59:59.000000Z"


@pytest.mark.parametrize("value", [10**20, -(10**20), 10**400, "99999999999999999999", "²", "nan", "1e308",
                                   "10000-01-01T00:00:00Z", "0001-01-01T00:00:00", [], {}, True, None])
def test_a_post_time_beyond_any_calendar_is_a_field_error(value: object) -> None:
    assert parse_time(value) is None
    assert "posted_at" in POST.validate({"id": "1", "text": "Lampu mati", "posted_at": value} if value is not None
                                        else {"id": "1", "text": "Lampu mati", "posted_at": []})


def test_a_post_time_in_either_form_is_read() -> None:
    assert parse_time(1764032400) == parse_time("1764032400") == parse_time("2025-11-25T01:00:00Z")


def _signed(payload_text: str, secret: str = "s") -> tuple[dict[str, str], bytes]:
    body = payload_text.encode("ascii")
    return {"x-kesah-signature": sign(secret, body)}, body


@pytest.mark.parametrize("sent_at", ["NaN", "Infinity", "-1e308", "1e308", "[]", '"\\ud800"', '"nan"', "true"])
def test_a_signed_delivery_with_no_moment_in_sent_at_is_malformed(sent_at: str) -> None:
    headers, body = _signed('{"sent_at": %s, "posts": [{"id": "1", "text": "Lampu mati"}]}' % sent_at)
    with pytest.raises(Malformed):
        SignedWebhook("sms", "s", 300).authenticate(headers, body, time.time())


def test_a_signed_delivery_s_posts_are_read_by_their_schema() -> None:
    webhook = SignedWebhook("sms", "s", 300)
    for payload, where in (({"sent_at": 1, "posts": []}, "posts"), ({"sent_at": 1}, "posts"),
                           ({"sent_at": 1, "posts": {"id": "1"}}, "posts"), ([], "_schema")):
        with pytest.raises(Malformed) as caught:
            webhook.posts(payload)
        assert where in (caught.value.errors or {}), payload
    (post,) = webhook.posts({"sent_at": 1, "posts": [{"id": 7, "text": "Lampu mati"}], "extra": True})
    assert (post.channel, post.source_id, post.text) == ("sms", "7", "Lampu mati")


@pytest.mark.parametrize("notification", [
    {"object": [], "entry": []},
    {"object": {"page": 1}, "entry": [{"changes": []}]},
    {"object": "page", "entry": [{"id": 1, "changes": [{"field": "feed", "value": {
        "verb": "add", "item": "post", "post_id": "1_2", "message": "Lampu mati", "created_time": 1e308}}]}]},
    {"object": "page", "entry": [{"messaging": [{"sender": {"id": "9"}, "timestamp": 10**400,
                                                 "message": {"mid": "m1", "text": "Lampu mati"}}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "messages": [{"id": "w1", "from": "62", "type": "text", "timestamp": "nan", "text": {"body": "Lampu mati"}}]}}]}]},
])
def test_meta_notifications_with_strange_values_are_read_without_failing(notification: dict) -> None:
    for post in meta.MetaWebhook("s").posts(notification):
        assert post.posted_at is None  # the post is kept; the time that is no moment is not


def test_a_meta_id_longer_than_an_event_may_hold_is_no_post() -> None:
    notification = {"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": {
        "verb": "add", "item": "post", "post_id": "1_" + "9" * 300, "message": "Lampu mati"}}]}]}
    assert meta.MetaWebhook("s").posts(notification) == []
    notification["entry"][0]["changes"][0]["value"]["post_id"] = "1_2"
    assert [p.source_id for p in meta.MetaWebhook("s").posts(notification)] == ["1_2"]


def test_a_csrf_token_of_any_text_is_only_wrong() -> None:
    assert auth.csrf_matches("abc", "abc")
    assert not auth.csrf_matches("abc", "ábc")
    assert not auth.csrf_matches("abc", "\ud800")
    assert not auth.csrf_matches("abc", None)


def test_the_fuzzers_own_encoding_sends_what_the_issue_names() -> None:
    """The e2e fuzzer's bodies: NaN and lone surrogates travel as a sloppy sender writes them."""
    text = json.dumps({"t": "\ud800", "n": float("nan")}, allow_nan=True)
    assert '"\\ud800"' in text and "NaN" in text
    with pytest.raises(http.NotJSON):
        http.parse_json(text.encode("ascii"))
