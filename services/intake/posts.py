"""From a channel's post to a complaint: what the post says, and what an operator must add. Pure.

A post becomes a ComplaintSubmitted at once when its kind and kelurahan are
known: given by its source, or read from its text by ``classify``. When
either is missing the post waits in intake (``channel_posts`` with no
complaint yet) until an operator completes it (``kesah posts complete``);
only then is it submitted and routed. The author is contact data: sealed in
the vault, never in the event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from kesah import reference

from . import classify, domain
from .channels import Post


@dataclass(frozen=True)
class Reading:
    kind: str | None
    kelurahan: str | None
    reasons: dict[str, str]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name, value in (("kind", self.kind), ("kelurahan", self.kelurahan)) if value is None)


def read(post: Post) -> Reading:
    """What the source said, else what the rules infer, and why."""
    inferred = classify.infer(post.text)
    kind, kind_reason = (post.kind, "given by the source") if post.kind else (inferred.kind, inferred.kind_reason)
    kelurahan, kelurahan_reason = (
        (post.kelurahan, "given by the source") if post.kelurahan else (inferred.kelurahan, inferred.kelurahan_reason)
    )
    return Reading(kind, kelurahan, {"kind": kind_reason, "kelurahan": kelurahan_reason})


BODY_LIMIT = 5000  # ComplaintSubmitted's limit on body


def clipped(text: str, limit: int = BODY_LIMIT) -> str:
    """A post longer than a complaint may be is kept, cut at the limit: Meta retries a
    refused delivery forever, and a long complaint is still a complaint. The whole post
    stays readable at its source."""
    if len(text) <= limit:
        return text
    return text[: limit - 2].rstrip() + " …"


def submission(post: Post, kind: str, kelurahan: str) -> domain.Submission:
    return domain.Submission(
        kind=kind,
        title=classify.title_from(post.text),
        body=clipped(post.text),
        kelurahan=kelurahan,
        kecamatan=reference.load().kelurahan[kelurahan],
        address="",
        visibility="public",
        channel=post.channel,
        reporter=dict(post.author),
        source_id=post.source_id,
        source_url=post.source_url,
    )


def without_author_in_url(post: Post) -> Post:
    return replace(post, source_url=public_source_url(post.source_url, post.author))


def public_source_url(url: str | None, author: dict[str, str]) -> str | None:
    """The post's address without its author's handle in it: the address goes into a public event.

    ``https://x.com/<handle>/status/<id>`` becomes ``https://x.com/i/status/<id>``
    (the same post); any other address that names the author is dropped.
    """
    if not url:
        return None
    names = {v.lstrip("@").casefold() for k, v in author.items() if k in ("handle", "id", "phone") and len(v) >= 3}
    parts = urlsplit(url)
    segments = parts.path.split("/")  # ["", "<handle>", "status", "<id>"]
    host = parts.netloc.casefold().removeprefix("www.").removeprefix("mobile.")
    if host in ("x.com", "twitter.com") and len(segments) >= 4 and segments[2] == "status" \
            and segments[1].casefold() in names:
        return urlunsplit((parts.scheme, parts.netloc, "/i/status/" + "/".join(segments[3:]), "", ""))
    if any(name in url.casefold() for name in names):
        return None
    return url
