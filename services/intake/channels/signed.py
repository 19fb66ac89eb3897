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
import json
from typing import Any, Mapping

from marshmallow import ValidationError

from . import Malformed, Post, Unauthenticated, signature_matches
from .schema import POST, parse_time, post_from

SIGNATURE_HEADER = "x-kesah-signature"
MAX_POSTS = 500


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
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Malformed("Badan permintaan harus berupa JSON yang valid.") from None
        sent = sent_at_seconds(payload.get("sent_at")) if isinstance(payload, dict) else None
        if sent is None:
            raise Malformed("Data kiriman tidak valid.", {"sent_at": ["Wajib diisi: detik Unix atau ISO 8601."]})
        if abs(now - sent) > self.tolerance:
            raise Unauthenticated(f"sent_at is {now - sent:.0f}s away from now: a replay or a wrong clock")

    def posts(self, payload: Any) -> list[Post]:
        if not isinstance(payload, dict):
            raise Malformed("Data harus berupa objek JSON dengan sent_at dan posts.")
        items = payload.get("posts")
        if not isinstance(items, list) or not items:
            raise Malformed("Data kiriman tidak valid.", {"posts": ["Harus berupa daftar kiriman yang tidak kosong."]})
        if len(items) > MAX_POSTS:
            raise Malformed("Data kiriman tidak valid.", {"posts": [f"Paling banyak {MAX_POSTS} kiriman sekali kirim."]})
        try:
            loaded = POST.load(items, many=True)
        except ValidationError as exc:
            raise Malformed("Data kiriman tidak valid.", {"posts": exc.messages}) from None
        return [post_from(self.channel, item) for item in loaded]
