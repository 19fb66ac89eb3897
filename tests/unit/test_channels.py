"""Channel adapters on the providers' documented payloads (tests/fixtures), and the import reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kesah import config
from services.intake import posts
from services.intake.channels import Malformed, Post, Unauthenticated, files, meta, sign, signature_matches
from services.intake.channels.signed import SignedWebhook

FIXTURES = Path(__file__).parent.parent / "fixtures"
SECRET = "app-secret-for-tests"
NOW = 1795568400.0  # 2026-11-25T01:00:00Z


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def meta_posts(name: str) -> list[Post]:
    return meta.MetaWebhook(SECRET).posts(json.loads(fixture(name)))


# --- signatures -----------------------------------------------------------------


def test_a_signature_is_hmac_sha256_of_the_exact_bytes() -> None:
    body = fixture("meta/facebook_feed_comment.json")
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_matches(SECRET, body, header)
    assert signature_matches(SECRET, body, header.upper().replace("SHA256=", "sha256="))
    assert not signature_matches(SECRET, body + b" ", header)  # one more byte
    assert not signature_matches(SECRET, body.replace(b"Gunung Elai", b"Gunung Elaj"), header)
    assert not signature_matches("another-secret", body, header)
    assert not signature_matches(SECRET, body, None)
    assert not signature_matches(SECRET, body, "sha1=" + header[7:])
    assert not signature_matches("", body, sign("", body))  # no secret configured: nothing is genuine


def test_meta_refuses_a_delivery_it_did_not_sign() -> None:
    body = fixture("meta/instagram_comment.json")
    adapter = meta.MetaWebhook(SECRET)
    adapter.authenticate({"x-hub-signature-256": sign(SECRET, body)}, body, NOW)
    with pytest.raises(Unauthenticated):
        adapter.authenticate({"x-hub-signature-256": sign("wrong", body)}, body, NOW)
    with pytest.raises(Unauthenticated):
        adapter.authenticate({}, body, NOW)


@pytest.mark.parametrize(
    "params, answer",
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, "1158201444"),
        ({"hub.mode": "subscribe", "hub.verify_token": "other", "hub.challenge": "1158201444"}, None),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}, None),
        ({"hub.mode": "subscribe", "hub.verify_token": "tok"}, None),
    ],
)
def test_meta_subscription_check(params: dict[str, str], answer: str | None) -> None:
    assert meta.challenge_answer(params, "tok") == answer
    assert meta.challenge_answer(params, "") is None  # no token configured: never verified


# --- Meta payloads ----------------------------------------------------------------


def test_a_facebook_page_comment_is_a_post() -> None:
    (post,) = meta_posts("meta/facebook_feed_comment.json")
    assert post.channel == "facebook"
    assert post.source_id == "889900112233445_1122334455667788"  # the comment, not the page's post
    assert post.source_url == ("https://www.facebook.com/104729381234567_889900112233445"
                               "?comment_id=889900112233445_1122334455667788")
    assert post.author == {"name": "Rahmat Hidayat", "id": "7012345678901234"}
    assert post.posted_at == "2026-11-25T01:00:55.000000Z"
    assert post.text.startswith("Min, lampu jalan di Jl. Gunung Elai")


def test_the_page_s_own_replies_reactions_and_edits_are_not_posts() -> None:
    assert meta_posts("meta/facebook_feed_other_changes.json") == []


def test_a_messenger_message_is_a_post_and_a_delivery_receipt_is_not() -> None:
    (post,) = meta_posts("meta/messenger_message.json")
    assert post.channel == "facebook" and post.source_id.startswith("m_AG5Hz2Uq7")
    assert post.author == {"id": "6543210987654321"} and post.source_url is None
    assert post.posted_at == "2026-11-25T01:09:59.870000Z"


def test_an_instagram_comment_is_a_post() -> None:
    (post,) = meta_posts("meta/instagram_comment.json")
    assert (post.channel, post.source_id) == ("instagram", "17865432109876543")
    assert post.author == {"handle": "warga.tanjunglaut", "id": "1789012345678901"}


def test_a_whatsapp_message_is_a_post_and_a_status_is_not() -> None:
    (post,) = meta_posts("meta/whatsapp_text.json")
    assert post.channel == "whatsapp" and post.source_id.startswith("wamid.")
    assert post.author == {"phone": "6281255550101", "name": "Siti Aminah"}
    assert meta_posts("meta/whatsapp_status.json") == []


@pytest.mark.parametrize("payload", [[], "x", {"object": "page"}, {"object": "page", "entry": {}}])
def test_what_is_not_a_notification_is_malformed(payload: object) -> None:
    with pytest.raises(Malformed):
        meta.MetaWebhook(SECRET).posts(payload)


def test_odd_shapes_inside_a_notification_are_skipped_not_fatal() -> None:
    payload = {"object": "page", "entry": [None, {"changes": "x"}, {"changes": [{"field": "feed", "value": []}]},
                                          {"messaging": [{"message": {"text": 5, "mid": "m"}}]}]}
    assert meta.MetaWebhook(SECRET).posts(payload) == []
    assert meta.MetaWebhook(SECRET).posts({"object": "user", "entry": []}) == []


# --- the generic signed webhook -------------------------------------------------------


def x_delivery(sent_at: float = NOW) -> bytes:
    payload = json.loads(fixture("channels/x_posts.json"))
    payload["sent_at"] = sent_at
    return json.dumps(payload).encode()


def test_a_signed_delivery_is_genuine_only_when_fresh() -> None:
    adapter = SignedWebhook("x", SECRET, tolerance_seconds=300)
    body = x_delivery()
    adapter.authenticate({"x-kesah-signature": sign(SECRET, body)}, body, NOW + 299)
    for late in (NOW + 301, NOW - 301):
        with pytest.raises(Unauthenticated, match="replay"):
            adapter.authenticate({"x-kesah-signature": sign(SECRET, body)}, body, late)
    with pytest.raises(Unauthenticated):
        adapter.authenticate({"x-kesah-signature": sign("other", body)}, body, NOW)
    # Moving sent_at forward breaks the signature: it is inside the signed body.
    moved = x_delivery(NOW + 1000)
    with pytest.raises(Unauthenticated):
        adapter.authenticate({"x-kesah-signature": sign(SECRET, body)}, moved, NOW + 1000)


def test_a_signed_delivery_gives_posts_of_its_channel() -> None:
    first, second = SignedWebhook("x", SECRET, 300).posts(json.loads(x_delivery()))
    assert (first.channel, first.source_id) == ("x", "1861234567890123456")
    assert first.author == {"handle": "@andi_btg", "name": "Andi"}
    assert first.posted_at == "2026-11-25T01:15:00.000000Z"
    assert second.text == "Selamat pagi Bontang"


def test_one_invalid_post_refuses_the_delivery_with_field_errors_in_indonesian() -> None:
    payload = {"sent_at": NOW, "posts": [{"id": "1", "text": "ok"}, {"id": "2", "url": "ftp://x", "kind": "protes"}]}
    with pytest.raises(Malformed) as caught:
        SignedWebhook("x", SECRET, 300).posts(payload)
    errors = caught.value.errors["posts"][1]
    assert errors["text"] == ["Wajib diisi."]
    assert errors["url"] == ["Alamat kiriman harus URL http(s)."]
    assert errors["kind"][0].startswith("Jenis harus salah satu dari")


# --- what becomes of a post --------------------------------------------------------------


def test_a_source_s_kind_and_kelurahan_win_over_the_text() -> None:
    post = Post("email", "m1", "Jln rusak di Loktuan", kind="saran", kelurahan="Satimpo")
    reading = posts.read(post)
    assert (reading.kind, reading.kelurahan, reading.missing) == ("saran", "Satimpo", ())
    assert reading.reasons == {"kind": "given by the source", "kelurahan": "given by the source"}
    reading = posts.read(Post("email", "m2", "Halo min"))
    assert reading.missing == ("kind", "kelurahan")


@pytest.mark.parametrize(
    "url, author, public",
    [
        ("https://x.com/andi_btg/status/186", {"handle": "@andi_btg"}, "https://x.com/i/status/186"),
        ("https://twitter.com/Andi_Btg/status/186?s=20", {"handle": "andi_btg"}, "https://twitter.com/i/status/186"),
        ("https://www.facebook.com/1047_8899?comment_id=8899_1122", {"id": "7012345678901234"},
         "https://www.facebook.com/1047_8899?comment_id=8899_1122"),
        ("https://www.instagram.com/warga.tanjunglaut/p/Cx1/", {"handle": "warga.tanjunglaut"}, None),
        ("https://mail.example/thread?from=6281255550101", {"phone": "6281255550101"}, None),
        (None, {"handle": "x"}, None),
    ],
)
def test_the_public_source_url_never_names_the_author(url: str | None, author: dict[str, str],
                                                      public: str | None) -> None:
    assert posts.public_source_url(url, author) == public


def test_a_submission_from_a_post_carries_no_author() -> None:
    (post,) = meta_posts("meta/whatsapp_text.json")
    submission = posts.submission(post, "keluhan", "Bontang Baru")
    assert submission.channel == "whatsapp" and submission.source_id == post.source_id
    assert submission.reporter == {"phone": "6281255550101", "name": "Siti Aminah"}  # for the vault
    from services.intake import domain

    event = domain.complaint_submitted(submission, "c0ffee00-0000-4000-8000-000000000000", "ACDE-FHJK")
    assert "6281255550101" not in json.dumps(event.payload) and "Siti" not in json.dumps(event.payload)
    assert event.payload["title"] == "Assalamualaikum."


# --- exports ------------------------------------------------------------------------------


def test_json_lines_are_read_with_line_numbers_and_reasons(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": 1, "text": "Jln rusak di Loktuan", "likes": 4}),
        "",
        "{broken",
        json.dumps(["a", "list"]),
        json.dumps({"id": "3", "text": "Banjir", "kelurahan": "Menteng"}),
        json.dumps({"id": "4", "text": "Banjir", "kelurahan": "tanjung  laut", "posted_at": 1795568400}),
    ]) + "\n", encoding="utf-8")
    records = list(files.read_posts(path, "facebook", "jsonl"))
    assert [(r.line, r.reason) for r in records if r.post is None] == [
        (3, "not valid JSON (Expecting property name enclosed in double quotes)"),
        (4, "not a JSON object"),
        (5, "kelurahan: Kelurahan tidak dikenal di Kota Bontang."),
    ]
    good = [r.post for r in records if r.post is not None]
    assert [(p.source_id, p.kelurahan, p.posted_at) for p in good] == [
        ("1", None, None), ("4", "Tanjung Laut", "2026-11-25T01:00:00.000000Z")]


def test_csv_is_read_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text('\ufeffid,text,author,kind\n'
                    '10,"Sampah menumpuk di Api-Api, tolong",@budi,\n'
                    '11,,@budi,keluhan\n'
                    '12,"Banyak baris\nsatu kiriman",,saran\n'
                    '13,teks,x,keluhan,extra\n', encoding="utf-8")
    records = list(files.read_posts(path, "x", "csv"))
    assert [(r.line, r.post.source_id if r.post else r.reason) for r in records] == [
        (2, "10"), (3, "text: Wajib diisi."), (5, "12"), (6, "1 cell(s) more than the header has columns")]
    assert records[0].post.author == {"handle": "@budi"} and records[0].post.kind is None  # type: ignore[union-attr]


def test_a_csv_without_the_needed_columns_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("post,message\n1,halo\n", encoding="utf-8")
    with pytest.raises(files.UnreadableFile, match="columns id and text"):
        list(files.read_posts(path, "x", "csv"))


# --- configuration -------------------------------------------------------------------------


def test_channel_secrets_are_name_secret_pairs() -> None:
    settings = config.load({"KESAH_CHANNEL_SECRETS": " x=abc, sms-gateway=d=e ,"})
    assert settings.channel_secrets == {"x": "abc", "sms-gateway": "d=e"}
    for bad in ("x", "X=abc", "x=", "facebook=abc", "web=abc"):
        with pytest.raises(config.ConfigError):
            config.load({"KESAH_CHANNEL_SECRETS": bad})


def test_a_post_longer_than_a_complaint_is_kept_cut_at_the_limit() -> None:
    from kesah import contracts
    from services.intake import domain, posts
    from services.intake.channels import Post

    long_text = "Jalan berlubang di Api-Api. " * 400  # 11,200 characters
    sub = posts.submission(Post("facebook", "123_456", long_text), "keluhan", "Api-Api")
    assert len(sub.body) == posts.BODY_LIMIT and sub.body.endswith(" …")
    event = domain.complaint_submitted(sub, "c0ffee00-0000-4000-8000-000000000000", "ACDE-FHJK")
    contracts.validate_payload(event.type, event.resolved_version(), event.payload)
