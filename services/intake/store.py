"""Intake's own tables beside its event log, and the one way to accept a complaint.

Contact data of a reporter never enters an event. It is encrypted with a key
of its own per complaint; that key is kept wrapped by the contact key
(KESAH_CONTACT_KEY or keys/contact.key). Erasing a reporter deletes the
complaint's key: the ciphertext is then noise, in every backup and replay.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection

from kesah import config, stores
from kesah.contracts import utc_now
from kesah.eventstore import EventStore

from . import domain, posts
from .channels import Post

metadata = sa.MetaData()

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("tracking_code", sa.String(9), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("submitted_at", sa.String(40), nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=False),
)

contact_keys = sa.Table(
    "contact_keys",
    metadata,
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), primary_key=True),
    sa.Column("wrapped_key", sa.Text, nullable=False),
)

# Every post a channel delivered, once: the unique (channel, source_id) is
# what makes a webhook retry or a later import of the same post create
# nothing. A post with no complaint_id waits for an operator to give it the
# kind or kelurahan its text did not tell; meanwhile its author's contact
# data is sealed here, and moves to ``contacts`` when it is submitted.
channel_posts = sa.Table(
    "channel_posts",
    metadata,
    sa.Column("post_id", sa.String(36), primary_key=True),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("source_url", sa.String(500)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("posted_at", sa.String(40)),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("kelurahan", sa.String(100)),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON: why kind and kelurahan are what they are
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), unique=True),
    sa.Column("contact_ciphertext", sa.Text),
    sa.Column("contact_wrapped_key", sa.Text),
    sa.UniqueConstraint("channel", "source_id", name="uq_channel_posts_source"),
    sa.Index("ix_channel_posts_waiting", "complaint_id", "received_at"),
)


class ContactVault:
    """Encrypts each complaint's contact data under a key of its own."""

    def __init__(self, master_key: bytes) -> None:
        self._master = Fernet(master_key)

    @classmethod
    def from_settings(cls, settings: config.Settings) -> "ContactVault":
        if settings.contact_key:
            return cls(settings.contact_key.encode("ascii"))
        path = settings.keys_dir / "contact.key"
        return cls(load_or_create_key(path))

    def seal(self, contact: dict[str, str]) -> tuple[str, str]:
        """(ciphertext, wrapped key) for one complaint."""
        key = Fernet.generate_key()
        ciphertext = Fernet(key).encrypt(json.dumps(contact, sort_keys=True).encode("utf-8"))
        return ciphertext.decode("ascii"), self._master.encrypt(key).decode("ascii")

    def open(self, ciphertext: str, wrapped_key: str) -> dict[str, str]:
        key = self._master.decrypt(wrapped_key.encode("ascii"))
        return json.loads(Fernet(key).decrypt(ciphertext.encode("ascii")))


def load_or_create_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
        return key


@dataclass(frozen=True)
class Accepted:
    complaint_id: str
    tracking_code: str
    secret: str
    submitted_at: str


@dataclass(frozen=True)
class Receipt:
    """What became of one delivered post."""

    outcome: str  # "submitted", "waiting" (for an operator) or "duplicate"
    post_id: str
    tracking_code: str | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaitingPost:
    post_id: str
    channel: str
    source_id: str
    text: str
    received_at: str
    kind: str | None
    kelurahan: str | None
    reasons: dict[str, str]


class PostProblem(LookupError):
    """A post cannot be completed as asked; the message says why."""


class Intake:
    """Intake's state: its event store and its private tables."""

    def __init__(self, store: EventStore, vault: ContactVault) -> None:
        self.store = store
        self.vault = vault

    @classmethod
    def open(cls, settings: config.Settings) -> "Intake":
        return cls(stores.owner_store(settings, "intake"), ContactVault.from_settings(settings))

    def _free_code(self, conn: Connection) -> str:
        # Under the store's write lock, so check-then-insert cannot race.
        while True:
            code = domain.new_tracking_code()
            taken = conn.execute(sa.select(complaints.c.complaint_id).where(complaints.c.tracking_code == code)).first()
            if taken is None:
                return code

    def submit(self, submission: domain.Submission) -> Accepted:
        """Record a complaint: private rows, the event and its outbox row, in one commit."""
        with self.store.write() as conn:
            return self._record(conn, submission)

    def _record(self, conn: Connection, submission: domain.Submission,
                sealed: tuple[str, str] | None = None) -> Accepted:
        """The complaint's rows and event in the caller's write transaction.

        ``sealed``: contact data sealed earlier (a post that waited); else
        the submission's reporter is sealed here.
        """
        complaint_id = str(uuid.uuid4())
        secret = domain.new_secret()
        code = self._free_code(conn)
        event = domain.complaint_submitted(submission, complaint_id, code)
        conn.execute(
            complaints.insert().values(
                complaint_id=complaint_id,
                tracking_code=code,
                secret_hash=domain.secret_hash(secret),
                submitted_at=event.occurred_at,
            )
        )
        contact = {k: v for k, v in submission.reporter.items() if v}
        if sealed is None and contact and submission.visibility != "anonymous":
            sealed = self.vault.seal(contact)
        if sealed is not None:
            ciphertext, wrapped = sealed
            conn.execute(contacts.insert().values(complaint_id=complaint_id, ciphertext=ciphertext))
            conn.execute(contact_keys.insert().values(complaint_id=complaint_id, wrapped_key=wrapped))
        self.store.append(conn, [event], expected_version=0)
        return Accepted(complaint_id, code, secret, event.occurred_at)

    # --- posts from channels ------------------------------------------------

    def receive_posts(self, delivered: Sequence[Post]) -> list[Receipt]:
        """Take posts in, each exactly once, in one commit.

        Under the store's write lock, a post already known by (channel,
        source id) is a duplicate; the table's unique constraint backs this
        up against any writer that does not take the lock.
        """
        receipts: list[Receipt] = []
        with self.store.write() as conn:
            self.store.lock(conn)
            for post in delivered:
                receipts.append(self._receive(conn, post))
        return receipts

    def _receive(self, conn: Connection, post: Post) -> Receipt:
        known = conn.execute(
            sa.select(channel_posts.c.post_id).where(
                channel_posts.c.channel == post.channel, channel_posts.c.source_id == post.source_id
            )
        ).first()
        if known is not None:
            return Receipt("duplicate", known.post_id)
        post = posts.without_author_in_url(post)
        reading = posts.read(post)
        post_id = str(uuid.uuid4())
        row = dict(
            post_id=post_id, channel=post.channel, source_id=post.source_id, source_url=post.source_url,
            text=post.text, posted_at=post.posted_at, received_at=utc_now(), kind=reading.kind,
            kelurahan=reading.kelurahan, reasons=json.dumps(reading.reasons, ensure_ascii=False),
        )
        if reading.missing:
            if post.author:
                row["contact_ciphertext"], row["contact_wrapped_key"] = self.vault.seal(post.author)
            conn.execute(channel_posts.insert().values(**row))
            return Receipt("waiting", post_id, missing=reading.missing)
        conn.execute(channel_posts.insert().values(**row))
        accepted = self._record(conn, posts.submission(post, reading.kind, reading.kelurahan))  # type: ignore[arg-type]
        conn.execute(channel_posts.update().where(channel_posts.c.post_id == post_id)
                     .values(complaint_id=accepted.complaint_id))
        return Receipt("submitted", post_id, accepted.tracking_code)

    def waiting_posts(self, limit: int = 100) -> list[WaitingPost]:
        """Posts an operator must complete, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(channel_posts).where(channel_posts.c.complaint_id.is_(None))
                .order_by(channel_posts.c.received_at).limit(limit)
            ).all()
        return [WaitingPost(r.post_id, r.channel, r.source_id, r.text, r.received_at, r.kind, r.kelurahan,
                            json.loads(r.reasons)) for r in rows]

    def complete_post(self, post_id: str, kind: str | None = None, kelurahan: str | None = None) -> Accepted:
        """An operator gives a waiting post what it lacked; it is submitted now."""
        with self.store.write() as conn:
            self.store.lock(conn)
            row = conn.execute(sa.select(channel_posts).where(channel_posts.c.post_id == post_id)).first()
            if row is None:
                raise PostProblem(f"no post with id {post_id}")
            if row.complaint_id is not None:
                raise PostProblem(f"post {post_id} is a complaint already")
            kind, kelurahan = kind or row.kind, kelurahan or row.kelurahan
            if not kind or not kelurahan:
                raise PostProblem(f"post {post_id} still needs " + " and ".join(
                    n for n, v in (("--kind", kind), ("--kelurahan", kelurahan)) if not v))
            sealed = (row.contact_ciphertext, row.contact_wrapped_key) if row.contact_ciphertext else None
            post = Post(row.channel, row.source_id, row.text, row.source_url, posted_at=row.posted_at)
            accepted = self._record(conn, posts.submission(post, kind, kelurahan), sealed)
            reasons = {**json.loads(row.reasons), "completed": "by an operator"}
            conn.execute(
                channel_posts.update().where(channel_posts.c.post_id == post_id).values(
                    complaint_id=accepted.complaint_id, kind=kind, kelurahan=kelurahan,
                    reasons=json.dumps(reasons, ensure_ascii=False),
                    contact_ciphertext=None, contact_wrapped_key=None,
                )
            )
        return accepted

    def contact(self, complaint_id: str) -> dict[str, str] | None:
        """The reporter's contact data, or None when there is none or it was erased."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(contacts.c.ciphertext, contact_keys.c.wrapped_key)
                .select_from(contacts.join(contact_keys, contacts.c.complaint_id == contact_keys.c.complaint_id))
                .where(contacts.c.complaint_id == complaint_id)
            ).first()
        if row is None:
            return None
        try:
            return self.vault.open(row.ciphertext, row.wrapped_key)
        except InvalidToken:
            return None
