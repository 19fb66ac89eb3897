"""A generic signed JSON webhook for any other channel: X, an SMS gateway, an email bridge.

The sender and Kesah Etam share one secret per channel (``KESAH_CHANNEL_SECRETS``).
A delivery is ``POST /api/intake/channels/<channel>`` with the JSON body::

    {"sent_at": 1764032400, "posts": [{"id": "...", "text": "...", ...}]}

and the header ``X-Kesah-Signature: sha256=<HMAC-SHA256 of the raw body,
keyed by the channel's secret, in hex>``. ``sent_at`` (Unix seconds or ISO
8601) is inside the signed body, so it cannot be changed; a delivery sent
longer ago (or further ahead) than the tolerance is refused as a replay.
A replay inside the window creates nothing either: posts are unique by
channel and id. The posts follow ``schema.PostSchema``; one invalid post
refuses the whole delivery (422), so a sender never has to guess which
part arrived.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from marshmallow import ValidationError

from kesah import http

from . import Malformed, Post, Unauthenticated, signature_matches
from .schema import DELIVERY, parse_time, post_from

SIGNATURE_HEADER = "x-kesah-signature"


def sent_at_seconds(value: Any) -> float | None:
    iso = parse_time(value) if value is not None else None
    if iso is None:
        return None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class SignedWebhook:
    def __init__(self, channel: str, secret: str, tolerance_seconds: float) -> None:
        self.channel = channel
        self.secret = secret
        self.tolerance = tolerance_seconds

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        if not signature_matches(self.secret, body, headers.get(SIGNATURE_HEADER)):
            raise Unauthenticated("X-Kesah-Signature does not sign this body with the channel's secret")
        try:
            payload = http.parse_json(body)
        except http.NotJSON as exc:
            raise Malformed(str(exc)) from None
        sent = sent_at_seconds(payload.get("sent_at")) if isinstance(payload, dict) else None
        if sent is None:
            raise Malformed("Data kiriman tidak valid.", {"sent_at": ["Wajib diisi: detik Unix atau ISO 8601."]})
        if abs(now - sent) > self.tolerance:
            raise Unauthenticated(f"sent_at is {now - sent:.0f}s away from now: a replay or a wrong clock")

    def posts(self, payload: Any) -> list[Post]:
        try:
            loaded = DELIVERY.load(payload)
        except ValidationError as exc:
            raise Malformed("Data kiriman tidak valid.", exc.messages) from None  # type: ignore[arg-type]
        return [post_from(self.channel, item) for item in loaded["posts"]]
