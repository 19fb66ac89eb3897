"""Intake's pure logic: tracking codes, reporter secrets, the submitted event."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from kesah.contracts import NewEvent, utc_now

from .photos import Photo

# No 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: a code read aloud over the phone or
# copied from a screenshot cannot be mistaken.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY3479"
SECRET_ALPHABET = "abcdefhjkmnprtuvwxy3479"
_CODE_RE = re.compile(r"^[%s]{8}$" % CODE_ALPHABET)


def new_tracking_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_tracking_code(text: str) -> str | None:
    """Accepts what people type (lower case, spaces, no dash); None if it cannot be a code."""
    raw = re.sub(r"[\s\-]", "", text or "").upper()
    if not _CODE_RE.match(raw):
        return None
    return f"{raw[:4]}-{raw[4:]}"


def new_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(10))


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Submission:
    kind: str
    title: str
    body: str
    kelurahan: str
    kecamatan: str
    address: str
    visibility: str
    channel: str
    reporter: dict[str, str]  # name/phone/email (or a post's author) as given; empty for anonymous
    source_id: str | None = None  # the post's id on its channel; None for the site
    source_url: str | None = None


def complaint_submitted(submission: Submission, complaint_id: str, tracking_code: str) -> NewEvent:
    payload: dict[str, Any] = {
        "complaint_id": complaint_id,
        "tracking_code": tracking_code,
        "kind": submission.kind,
        "title": submission.title,
        "body": submission.body,
        "kelurahan": submission.kelurahan,
        "kecamatan": submission.kecamatan,
        "address": submission.address,
        "visibility": submission.visibility,
        "channel": submission.channel,
        "source_id": submission.source_id,
        "source_url": submission.source_url,
    }
    return NewEvent(
        type="ComplaintSubmitted",
        stream_id=complaint_id,
        payload=payload,
        event_id=str(uuid.uuid4()),
        occurred_at=utc_now(),
        correlation_id=complaint_id,
    )


def photo_attached(submitted: NewEvent, photo: Photo) -> NewEvent:
    """The photo as stored (stripped); follows the submission it belongs to."""
    complaint_id = submitted.payload["complaint_id"]
    return NewEvent(
        type="PhotoAttached",
        stream_id=complaint_id,
        payload={
            "complaint_id": complaint_id,
            "tracking_code": submitted.payload["tracking_code"],
            "photo_id": str(uuid.uuid4()),
            "content_type": photo.content_type,
            "size": photo.size,
            "width": photo.width,
            "height": photo.height,
            "sha256": photo.sha256,
        },
        event_id=str(uuid.uuid4()),
        occurred_at=submitted.occurred_at,
        correlation_id=complaint_id,
        causation_id=submitted.event_id,
    )


def contact_erased(complaint_id: str, tracking_code: str) -> NewEvent:
    return NewEvent(
        type="ContactErased",
        stream_id=complaint_id,
        payload={"complaint_id": complaint_id, "tracking_code": tracking_code},
        event_id=str(uuid.uuid4()),
        occurred_at=utc_now(),
        correlation_id=complaint_id,
    )


def title_from(description: str, kind_label: str) -> str:
    """A title for a complaint that came without one (Open311): the start of its text."""
    words = " ".join(description.split())
    first = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0]
    if len(first) > 80:
        first = first[:80].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return first if len(first) >= 5 else f"{kind_label}: {first}"[:200]


class WrongSecret(Exception):
    """The secret does not belong to this complaint."""


class NotNow(Exception):
    """The complaint's state does not allow this follow-up; the message (Indonesian) says why."""


def secret_matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, secret_hash(secret or ""))


def follow_up(complaint_id: str, tracking_code: str, state: dict[str, Any], action: str, comment: str) -> NewEvent:
    """ComplaintClosed (``selesai``) after an answer, or ComplaintReopened (``buka``) once, with a comment."""
    if state["rejected"]:
        raise NotNow("Aduan ini ditolak; tidak dapat ditindaklanjuti.")
    if action == "selesai":
        if not state["answer_event_id"]:
            raise NotNow("Aduan dapat dinyatakan selesai setelah instansi menjawabnya.")
        type_, cause = "ComplaintClosed", state["answer_event_id"]
    elif action == "buka":
        if state["reopened"]:
            raise NotNow("Aduan hanya dapat dibuka kembali satu kali.")
        if not (state["answer_event_id"] or state["closed"]):
            raise NotNow("Aduan dapat dibuka kembali setelah instansi menjawabnya.")
        if len(comment.strip()) < 5:
            raise NotNow("Tuliskan alasan membuka kembali aduan (minimal 5 karakter).")
        type_, cause = "ComplaintReopened", state["answer_event_id"]
    else:
        raise ValueError(action)
    return NewEvent(
        type=type_,
        stream_id=complaint_id,
        payload={"complaint_id": complaint_id, "tracking_code": tracking_code, "comment": comment.strip()},
        event_id=str(uuid.uuid4()),
        occurred_at=utc_now(),
        correlation_id=complaint_id,
        causation_id=cause,
    )
