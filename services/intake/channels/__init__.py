"""Channel adapters: social media and other sources, each turning its deliveries into posts.

Every source speaks through one interface. An ``Adapter`` proves that a
delivery comes from its source (``authenticate``, on the raw bytes, before
anything is parsed) and reads the posts out of it (``posts``). A ``Post`` is
what intake needs from any of them: the channel, the post's id there (the
key of exactly-once), its text, its address, its author (contact data: it
goes to the vault, never into an event or a page) and, where the source
knows them, the kind and the kelurahan.

- ``meta``: Facebook pages, Instagram and WhatsApp Business (Meta's webhooks);
- ``signed``: a generic signed JSON webhook for any other channel (X, an SMS
  gateway, an email bridge), one secret per channel;
- ``files``: exports of posts (JSON Lines or CSV) for ``kesah import``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from kesah import config



@dataclass(frozen=True)
class Post:
    channel: str
    source_id: str
    text: str
    source_url: str | None = None
    author: dict[str, str] = field(default_factory=dict)  # handle, name, phone: contact data
    posted_at: str | None = None
    kind: str | None = None  # given by the source; otherwise inferred from the text
    kelurahan: str | None = None


class Unauthenticated(Exception):
    """The delivery is not proven to come from its source (HTTP 403)."""


class Malformed(Exception):
    """The delivery is authentic but cannot be read (HTTP 400/422); ``errors`` per field."""

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class Adapter(Protocol):
    channel: str

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise Unauthenticated unless ``body`` is a genuine delivery of this source."""

    def posts(self, payload: Any) -> list[Post]:
        """The posts in a parsed delivery; what is not a post (a read receipt, a like) is left out."""


def importable_channel(name: str) -> bool:
    """Any channel's export may be imported, Meta's included; "web" is the site's own form."""
    return bool(config.CHANNEL_NAME_RE.match(name)) and name != "web"


# What a post's time can be: from 1970 to the end of year 9999 (datetime's last).
LATEST_UNIX = 253402300799


def iso_from_unix(seconds: float) -> str | None:
    """Unix seconds as the store's UTC text; None for no moment a post can have (NaN, infinite, out of range)."""
    if not math.isfinite(seconds) or not 0 <= seconds <= LATEST_UNIX:
        return None
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the HMAC-SHA256 in hex."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs exactly these bytes; compared in constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().lower().encode("utf-8", "replace"))
