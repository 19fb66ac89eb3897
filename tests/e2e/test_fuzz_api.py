"""Fuzzing the running system over real HTTP: no request of any kind gets a 5xx.

- Schemathesis reads the OpenAPI document the system serves (GET /api/openapi.json through the one
  port) and sends every operation data that fits it and data that does not.
- The signed webhooks are fuzzed apart: a body that is not signed never reaches the parser, so
  Hypothesis builds deliveries full of nasty values (NaN, Infinity, numbers beyond a float, lone
  surrogates, NUL, timestamps far beyond year 9999, lists where objects belong) and signs each with the
  channel's secret. A malformed delivery must be refused (4xx) and none of its posts may become a
  complaint.

The budgets are the constants below; each test prints the requests it sent and the 5xx it got.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any, Callable, Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, configuration, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from kesah import openapi
from services.intake.channels import sign
from tests.support.fixtures import module_system
from tests.support.system import System

# Examples per operation and generation mode (positive, negative): ~60 operations.
EXAMPLES_PER_OPERATION = 4
# Signed deliveries per webhook (generic channel, Meta).
WEBHOOK_EXAMPLES = 100

APP_SECRET = "meta-app-secret-fuzz"
CHANNEL = "sms"
CHANNEL_SECRET = "sms-secret-fuzz"
ENV = {
    "KESAH_META_APP_SECRET": APP_SECRET,
    "KESAH_META_VERIFY_TOKEN": "kesah-verify-fuzz",
    "KESAH_CHANNEL_SECRETS": f"{CHANNEL}={CHANNEL_SECRET}",
}


def fuzz(examples: int) -> settings:
    """Generation only (no shrinking: every 5xx is listed, none is chased), nothing kept on disk."""
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate])


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # Hypothesis caches what it learns under .hypothesis/ in the working directory: a temporary one instead.
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    try:
        yield from module_system(tmp_path_factory, ENV)
    finally:
        configuration.set_hypothesis_home_dir(None)


class Tally:
    """Requests sent and the 5xx among them (a connection the server dropped counts as one), each reproducible."""

    def __init__(self) -> None:
        self.sent = 0
        self.server_errors: list[str] = []
        self.statuses: Counter[int] = Counter()

    def send(self, request: Callable[[], Any], what: Callable[[], str]) -> Any:
        self.sent += 1
        try:
            response = request()
        except (httpx.TransportError, requests.ConnectionError) as exc:
            self.server_errors.append(f"dropped ({exc.__class__.__name__}): {what()}")
            return None
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{response.status_code}: {what()}\n    -> {response.text[:300]}")
        return response

    def report(self, name: str) -> str:
        statuses = " ".join(f"{status}x{count}" for status, count in sorted(self.statuses.items()))
        return f"{name}: {self.sent} requests, {len(self.server_errors)} x 5xx ({statuses})"


def test_no_operation_of_the_served_document_answers_5xx(fuzzed: System) -> None:
    base = str(fuzzed.http.base_url).rstrip("/")
    # Unreachable or invalid, the document fails the test here (no operations means no test).
    schema = schemathesis.openapi.from_url(base + openapi.PATH)
    schema.validate()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50, f"only {len(operations)} operations in the served document"
    portal = fuzzed.portal("operator", (fuzzed.data_dir / "operator-password").read_text().strip())
    session = dict(portal.http.cookies)
    token = f"Bearer {fuzzed.tokens['pupr']}"
    tally = Tally()
    spent: dict[str, float] = {}
    unsent: list[str] = []
    with requests.Session() as client:
        for operation in operations:
            started = time.monotonic()
            path = operation.path
            headers = {"authorization": token} if path.startswith("/api/agency") else None
            cookies = session if path.startswith("/agency") else None
            # Nothing invalid can be said to an operation that takes no input (Hypothesis would search long for it).
            takes_input = any(len(list(part)) for part in (operation.path_parameters, operation.query,
                                                            operation.headers, operation.body))
            before = tally.sent
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[:2 if takes_input else 1]:
                strategy = operation.as_strategy(generation_mode=mode, headers=headers, cookies=cookies)

                @fuzz(EXAMPLES_PER_OPERATION)
                @given(case=strategy)
                def send(case: Any) -> None:
                    tally.send(lambda: case.call(session=client, base_url=base, timeout=60), case.as_curl_command)

                try:
                    send()
                except Unsatisfiable:
                    # Only fixed input (a token, a session cookie): nothing invalid to say to it.
                    assert mode is GenerationMode.NEGATIVE, operation.label
            spent[operation.label] = time.monotonic() - started
            if tally.sent == before:
                unsent.append(operation.label)
    portal.close()
    slowest = sorted(spent.items(), key=lambda item: -item[1])[:8]
    print("\n" + tally.report("schemathesis") + "; slowest: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
    assert not unsent, f"operations never called: {unsent}"
    assert not tally.server_errors, tally.report("schemathesis") + "\n" + "\n".join(tally.server_errors)


# --- the signed webhooks ----------------------------------------------------------------

BROKEN = [float("nan"), float("inf"), float("-inf"), "\ud800", "ok \udfff ok", "\udc00\ud800", "nul \x00 nul"]
"""Values no store can keep (NaN, Infinity, lone surrogates, NUL): refused as the body is read."""
NOT_A_TIME = [1e308, -1e308, 10**20, -(10**20), 253402300800, "99999999999999999999", "1e308", "nan", "inf", "²",
              "10000-01-01T00:00:00Z", "0001-01-01T00:00:00"]
WRONG_TYPES = [[], {}, [1, 2], {"a": 1}, True, 1.5]
NASTY = st.sampled_from(BROKEN + NOT_A_TIME + WRONG_TYPES)
# What no field of a post may be: not JSON text, or not of its type (text fields take text only).
NOT_TEXT = st.sampled_from(BROKEN + WRONG_TYPES)
NOT_TIME = st.sampled_from(BROKEN + NOT_A_TIME + WRONG_TYPES)

TEXTS = st.sampled_from([
    "Lampu jalan mati di Jl. Awang Long, Bontang Baru, sudah seminggu.",
    "Sampah menumpuk di pasar Tanjung Laut Indah, tolong diangkut.",
    "Halo min",
])


def _post(unique: str) -> dict[str, Any]:
    return {"id": unique, "text": "Jalan berlubang di Jl. Awang Long, Bontang Baru, sudah dua minggu.",
            "posted_at": int(time.time()), "kind": "keluhan", "kelurahan": "Bontang Baru"}


@st.composite
def generic_deliveries(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """(delivery, malformed): a good delivery, or one with a nasty value in one place."""
    posts = [_post(uuid.uuid4().hex) for _ in range(draw(st.integers(1, 3)))]
    for post in posts:
        post["text"] = draw(TEXTS)
        for optional in ("posted_at", "kind", "kelurahan"):
            if draw(st.booleans()):
                post.pop(optional)
    delivery: dict[str, Any] = {"sent_at": time.time(), "posts": posts}
    where = draw(st.sampled_from(["nowhere", "sent_at", "posts", "post", "id", "text", "posted_at", "kind",
                                  "kelurahan", "url", "author", "name"]))
    if where == "nowhere":
        return delivery, False
    value = draw(NOT_TIME if where in ("sent_at", "posted_at") else NOT_TEXT)
    if where == "sent_at":
        delivery["sent_at"] = value
    elif where == "posts":
        delivery["posts"] = value if not isinstance(value, list) or value == [] else [value]
    elif where == "post":
        posts[draw(st.integers(0, len(posts) - 1))] = value
    else:
        posts[draw(st.integers(0, len(posts) - 1))][where] = value
    return delivery, True


@st.composite
def meta_deliveries(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """(notification, broken): Meta's shapes with nasty values anywhere; broken when not JSON text at all."""
    # Half of them JSON text throughout, so the adapter itself meets the strange values (not only the parser).
    values = NASTY if draw(st.booleans()) else st.sampled_from(NOT_A_TIME + WRONG_TYPES)
    nasty = st.one_of(values, st.integers(-(10**30), 10**30), st.floats(allow_nan=False, allow_infinity=False))
    maybe = lambda good: st.one_of(st.just(good), nasty)  # noqa: E731
    mid = uuid.uuid4().hex
    feed = {"field": "feed", "value": {
        "verb": draw(maybe("add")), "item": draw(maybe("post")), "post_id": draw(maybe(f"1_{mid}")),
        "message": draw(maybe(draw(TEXTS))), "created_time": draw(maybe(int(time.time()))),
        "from": draw(maybe({"id": "42", "name": "Warga"}))}}
    message = {"sender": draw(maybe({"id": "42"})), "timestamp": draw(maybe(int(time.time() * 1000))),
               "message": draw(maybe({"mid": f"m_{mid}", "text": draw(TEXTS)}))}
    whatsapp = {"field": "messages", "value": {
        "contacts": draw(maybe([{"wa_id": "62812", "profile": {"name": "Warga"}}])),
        "messages": draw(maybe([{"id": f"wamid.{mid}", "from": "62812", "type": "text",
                                 "timestamp": draw(maybe(str(int(time.time())))), "text": {"body": draw(TEXTS)}}]))}}
    obj = draw(maybe(draw(st.sampled_from(["page", "instagram", "whatsapp_business_account"]))))
    entry = {"id": draw(maybe("1")), "time": draw(maybe(int(time.time()))),
             "changes": draw(maybe([feed, whatsapp])), "messaging": draw(maybe([message]))}
    notification = {"object": obj, "entry": draw(maybe([entry]))}
    return notification, _broken(notification)


def _broken(value: Any) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF or c == "\x00" for c in value)
    if isinstance(value, dict):
        return any(_broken(k) or _broken(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_broken(v) for v in value)
    return False


def _source_ids(value: Any) -> set[str]:
    """Every text in a delivery: a post's id is among them."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_source_ids(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_source_ids(v) for v in value)) if value else set()
    return set()


def _deliver(client: httpx.Client, path: str, header: str, secret: str, payload: dict[str, Any]) -> httpx.Response:
    # ensure_ascii: lone surrogates travel as \\udXXX escapes, NaN and Infinity as bare words, as a sloppy sender's would.
    body = json.dumps(payload, allow_nan=True).encode("ascii")
    return client.post(path, content=body, headers={"content-type": "application/json", header: sign(secret, body)})


def test_signed_webhooks_refuse_malformed_deliveries_without_5xx(fuzzed: System) -> None:
    tally = Tally()
    refused: set[str] = set()
    problems: list[str] = []
    channels = [
        (f"/api/intake/channels/{CHANNEL}", "x-kesah-signature", CHANNEL_SECRET, generic_deliveries()),
        ("/api/intake/meta", "x-hub-signature-256", APP_SECRET, meta_deliveries()),
    ]
    client = httpx.Client(base_url=fuzzed.http.base_url, timeout=60)  # its own connections, none idle
    for path, header, secret, deliveries in channels:

        @fuzz(WEBHOOK_EXAMPLES)
        @given(delivery=deliveries)
        def send(delivery: tuple[dict[str, Any], bool]) -> None:
            payload, malformed = delivery
            response = tally.send(lambda: _deliver(client, path, header, secret, payload),
                                  lambda: f"POST {path} {json.dumps(payload)[:400]}")
            if response is None:
                return
            if malformed:
                refused.update(_source_ids(payload))
                if not 400 <= response.status_code < 500:
                    problems.append(f"{response.status_code} for a malformed delivery to {path}: "
                                    f"{json.dumps(payload)[:300]}")
            elif path != "/api/intake/meta" and response.status_code != 200:
                problems.append(f"{response.status_code} for a good delivery: {response.text[:300]}")

        send()
    client.close()
    print("\n" + tally.report("webhooks"))
    assert tally.sent >= 2 * WEBHOOK_EXAMPLES
    assert not tally.server_errors, tally.report("webhooks") + "\n" + "\n".join(tally.server_errors)
    assert not problems, "\n".join(problems[:20])
    submitted = [e.payload for e in fuzzed.events("intake", ["ComplaintSubmitted"])]
    taken = [p for p in submitted if p.get("source_id") in refused]
    assert not taken, f"{len(taken)} posts of refused deliveries became complaints: {taken[:3]}"
    assert any(p.get("channel") == CHANNEL for p in submitted), "no good delivery became a complaint"


def test_every_json_endpoint_refuses_what_no_store_can_keep(fuzzed: System) -> None:
    """Issue 13's first case and its kin, on every face that reads JSON: a 400 with the reason, nothing stored."""
    token = {"authorization": f"Bearer {fuzzed.tokens['pupr']}"}
    good = {"kind": "keluhan", "title": "Jalan berlubang di depan pasar", "body": "Lubang besar, sudah dua minggu.",
            "kelurahan": "Bontang Baru"}
    endpoints = [("/api/complaints", good, "title", {}),
                 ("/api/intake/complaints/KJ4MX7PA/follow-up", {"secret": "x", "action": "buka"}, "comment", {}),
                 ("/api/agency/complaints/KJ4M-X7PA/responses", {"body": "Sudah kami tangani."}, "body", token),
                 (f"/api/intake/channels/{CHANNEL}", {"sent_at": time.time(), "posts": [_post("issue-13")]}, "sent_at", {})]
    before = len(fuzzed.events("intake", ["ComplaintSubmitted"]))
    wrong = []
    with httpx.Client(base_url=fuzzed.http.base_url, timeout=60) as client:
        for path, payload, field, headers in endpoints:
            for value in BROKEN:
                body = json.dumps({**payload, field: value}, allow_nan=True).encode("ascii")
                signature = {"x-kesah-signature": sign(CHANNEL_SECRET, body)} if "/channels/" in path else {}
                response = client.post(path, content=body,
                                       headers={"content-type": "application/json", **headers, **signature})
                if response.status_code != 400 or not response.json().get("message"):
                    wrong.append(f"{path} {field}={value!r}: {response.status_code} {response.text[:200]}")
        response = client.get("/aduan", params={"q": "a\x00b"})
        if response.status_code != 400:
            wrong.append(f"/aduan?q=a%00b: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert len(fuzzed.events("intake", ["ComplaintSubmitted"])) == before
