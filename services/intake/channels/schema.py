"""A post as other sources send it: the generic webhook and imported files share this shape.

``{"id": "...", "text": "...", "url": "https://...", "author": "@handle",
"name": "...", "posted_at": "2026-11-25T08:00:00Z" or Unix seconds,
"kind": "keluhan", "kelurahan": "Loktuan"}`` — only ``id`` and ``text`` are
required; ``kind`` and ``kelurahan`` are for sources that know them (a form
behind an email bridge), otherwise they are inferred from the text. Fields
an export adds beside these (likes, shares) are ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates

from kesah.contracts import KINDS

from ..schemas import KELURAHAN, NOT_NULL, NOT_TEXT, REQUIRED, canonical_kelurahan
from ..schemas import text as text_field
from . import Post, iso_from_unix

def parse_time(value: Any) -> str | None:
    """ISO 8601 or Unix seconds as the store's UTC text; None when it is neither, or no moment a post can have."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return iso_from_unix(float(value))
        if isinstance(value, str) and value.strip().isdecimal():
            return iso_from_unix(float(value.strip()))
        if not isinstance(value, str):
            return None
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Bontang's own clock (WITA)
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, OverflowError):  # "²" is a digit float() refuses; year 1 minus 8 hours is before year 1
        return None


class PostSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "Setiap kiriman harus berupa objek JSON."}

    id = text_field(required=True, min_len=1, max_len=200, label="ID kiriman")
    text = text_field(required=True, min_len=1, max_len=5000, label="Isi kiriman")
    url = fields.Url(
        allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=500),
        error_messages={"invalid": "Alamat kiriman harus URL http(s).", "null": NOT_NULL},
    )
    author = text_field(max_len=200, label="Akun pengirim")
    name = text_field(max_len=200, label="Nama pengirim")
    posted_at = fields.Raw(allow_none=True)
    kind = fields.String(
        allow_none=True,
        error_messages={"invalid": NOT_TEXT},
        validate=validate.OneOf(KINDS, error="Jenis harus salah satu dari: " + ", ".join(KINDS) + "."),
    )
    kelurahan = fields.String(allow_none=True, error_messages={"invalid": NOT_TEXT},
                              metadata={"enum": KELURAHAN, "description": "matched without case or spacing"})

    @pre_load
    def tidy(self, data: Any, **kwargs: Any) -> Any:
        """Numbers as ids, blank cells (CSV) and nulls as absent, text without surrounding spaces."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("id"), int) and not isinstance(data.get("id"), bool):
            data["id"] = str(data["id"])
        for key, value in list(data.items()):
            if isinstance(value, str):
                data[key] = value.strip()
            if data[key] in ("", None):
                data.pop(key)
        return data

    @validates("posted_at")
    def known_time(self, value: Any, **kwargs: Any) -> None:
        if parse_time(value) is None:
            raise ValidationError("Waktu kiriman harus ISO 8601 atau detik Unix (tahun 1970 sampai 9999).")

    @validates("kelurahan")
    def known_kelurahan(self, value: str, **kwargs: Any) -> None:
        if canonical_kelurahan(value) is None:
            raise ValidationError("Kelurahan tidak dikenal di Kota Bontang.")


POST = PostSchema()
MAX_POSTS = 500


class DeliverySchema(Schema):
    """A delivery of the generic signed webhook: ``sent_at`` (checked with the signature) and its posts."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "Data harus berupa objek JSON dengan sent_at dan posts."}

    sent_at = fields.Raw(required=True, metadata={
        "description": "Unix seconds or ISO 8601; within KESAH_WEBHOOK_TOLERANCE_SECONDS of now",
        "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]})
    posts = fields.List(
        fields.Nested(PostSchema), required=True,
        validate=[validate.Length(min=1, error="Harus berupa daftar kiriman yang tidak kosong."),
                  validate.Length(max=MAX_POSTS, error=f"Paling banyak {MAX_POSTS} kiriman sekali kirim.")],
        error_messages={"required": "Harus berupa daftar kiriman yang tidak kosong.",
                        "null": "Harus berupa daftar kiriman yang tidak kosong.",
                        "invalid": "Harus berupa daftar kiriman yang tidak kosong."},
    )


DELIVERY = DeliverySchema()


def post_from(channel: str, loaded: dict[str, Any]) -> Post:
    author = {"handle": loaded.get("author"), "name": loaded.get("name")}
    return Post(
        channel=channel,
        source_id=loaded["id"],
        text=loaded["text"],
        source_url=loaded.get("url"),
        author={k: v for k, v in author.items() if v},
        posted_at=parse_time(loaded["posted_at"]) if "posted_at" in loaded else None,
        kind=loaded.get("kind"),
        kelurahan=canonical_kelurahan(loaded["kelurahan"]) if loaded.get("kelurahan") else None,
    )


__all__ = ["DELIVERY", "DeliverySchema", "MAX_POSTS", "POST", "PostSchema", "REQUIRED", "parse_time", "post_from"]
