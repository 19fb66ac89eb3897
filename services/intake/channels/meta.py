"""Meta's webhooks: Facebook pages, Instagram and WhatsApp Business.

Follows Meta's documented webhook protocol:

- subscription check: ``GET`` with ``hub.mode=subscribe``, ``hub.verify_token``
  (ours, set in the app dashboard) and ``hub.challenge``, answered with the
  challenge as plain text when the token matches;
- notifications: ``POST`` of a JSON ``{"object": ..., "entry": [...]}`` with
  ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body, keyed by the
  app secret>``. Meta retries a delivery until it gets a 200, so what is not
  a complaint (receipts, reactions, edits, the page's own replies) is
  acknowledged and left out rather than refused.

Which parts of a notification are posts:

- ``object: page``: ``changes`` of field ``feed`` that add a post, status or
  comment with a message (source id: the comment id, else the post id), and
  Messenger ``messaging`` items with text (source id: the message id);
- ``object: instagram``: ``changes`` of field ``comments``/``live_comments``
  (source id: the comment id) and direct messages in ``messaging``;
- ``object: whatsapp_business_account``: ``changes`` of field ``messages``
  with text, or a caption (source id: the ``wamid``). ``statuses`` are receipts.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from . import Malformed, Post, Unauthenticated, iso_from_unix, signature_matches

SIGNATURE_HEADER = "x-hub-signature-256"
OBJECT_CHANNELS = {"page": "facebook", "instagram": "instagram", "whatsapp_business_account": "whatsapp"}


def challenge_answer(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when Meta's subscription check is genuine; None otherwise."""
    if not verify_token:
        return None
    if params.get("hub.mode") != "subscribe" or params.get("hub.verify_token") != verify_token:
        return None
    challenge = params.get("hub.challenge")
    return challenge if challenge else None


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


ID_LIMIT = 200  # ComplaintSubmitted's limit on a post's source id


def _ident(value: Any) -> str:
    """An id as text; "" for what is none (a list, a bool, text longer than any of Meta's ids)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if len(text) <= ID_LIMIT else ""


def _time(value: Any, millis: bool = False) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return iso_from_unix(seconds / 1000 if millis else seconds)


def _author(**fields: Any) -> dict[str, str]:
    return {k: _ident(v) for k, v in fields.items() if _ident(v)}


class MetaWebhook:
    """One adapter for the three Meta products; each post names its own channel."""

    channel = "meta"

    def __init__(self, app_secret: str) -> None:
        self.app_secret = app_secret

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        if not signature_matches(self.app_secret, body, headers.get(SIGNATURE_HEADER)):
            raise Unauthenticated("X-Hub-Signature-256 does not sign this body with the app secret")

    def posts(self, payload: Any) -> list[Post]:
        if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
            raise Malformed("not a Meta webhook notification: expected an object with an entry list")
        subscribed = payload.get("object")
        channel = OBJECT_CHANNELS.get(subscribed) if isinstance(subscribed, str) else None
        if channel is None:
            return []  # an object we did not subscribe to for complaints
        found: list[Post] = []
        for entry in _dicts(payload["entry"]):
            owner = _ident(entry.get("id"))
            for change in _dicts(entry.get("changes")):
                found.extend(self._change(channel, owner, change))
            for item in _dicts(entry.get("messaging")):
                found.extend(self._message(channel, owner, item))
        return found

    def _change(self, channel: str, owner: str, change: dict[str, Any]) -> Iterator[Post]:
        field, value = change.get("field"), _dict(change.get("value"))
        if channel == "facebook" and field == "feed":
            yield from self._feed(owner, value)
        elif channel == "instagram" and field in ("comments", "live_comments"):
            author = _dict(value.get("from"))
            text, comment_id = _text(value.get("text")), _ident(value.get("id"))
            if text and comment_id and _ident(author.get("id")) != owner:
                yield Post("instagram", comment_id, text, None,
                           _author(handle=author.get("username"), id=author.get("id")), None)
        elif channel == "whatsapp" and field == "messages":
            yield from self._whatsapp(value)

    def _feed(self, page_id: str, value: dict[str, Any]) -> Iterator[Post]:
        author = _dict(value.get("from"))
        if value.get("verb") != "add" or value.get("item") not in ("post", "status", "comment"):
            return  # edits, removals, reactions, shares
        if page_id and _ident(author.get("id")) == page_id:
            return  # the city's own post or reply
        text, post_id = _text(value.get("message")), _ident(value.get("post_id"))
        comment_id = _ident(value.get("comment_id")) if value.get("item") == "comment" else ""
        if not text or not (comment_id or post_id):
            return
        url = f"https://www.facebook.com/{post_id}" if post_id else None
        if url and comment_id:
            url += f"?comment_id={comment_id}"
        yield Post("facebook", comment_id or post_id, text, url,
                   _author(name=author.get("name"), id=author.get("id")), _time(value.get("created_time")))

    def _message(self, channel: str, owner: str, item: dict[str, Any]) -> Iterator[Post]:
        message = _dict(item.get("message"))
        sender = _ident(_dict(item.get("sender")).get("id"))
        text, mid = _text(message.get("text")), _ident(message.get("mid"))
        if message.get("is_echo") or not text or not mid or sender == owner:
            return
        yield Post(channel, mid, text, None, _author(id=sender), _time(item.get("timestamp"), millis=True))

    def _whatsapp(self, value: dict[str, Any]) -> Iterator[Post]:
        names = {_ident(c.get("wa_id")): _dict(c.get("profile")).get("name") for c in _dicts(value.get("contacts"))}
        for message in _dicts(value.get("messages")):
            kind = message.get("type")
            body = _dict(message.get(kind)) if isinstance(kind, str) else {}
            text = _text(body.get("body")) or _text(body.get("caption"))
            wamid, sender = _ident(message.get("id")), _ident(message.get("from"))
            if not text or not wamid:
                continue
            yield Post("whatsapp", wamid, text, None, _author(phone=sender, name=names.get(sender)),
                       _time(message.get("timestamp")))
