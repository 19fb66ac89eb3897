"""Intake's own tables beside its event log, and the one way to accept a complaint.

Contact data of a reporter never enters an event. It is encrypted with a key
of its own per complaint. The keys live in the contact vault, a database of
their own (KESAH_CONTACT_VAULT_DB_URL), wrapped by the contact key
(KESAH_CONTACT_KEY or keys/contact.key); the ciphertext lives in intake's
database. Backups of intake's database (and every copy of the event log)
therefore never hold a usable key. Erasing a reporter destroys the
complaint's key: the ciphertext in any backup is then noise for good.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Sequence

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection, Engine

from kesah import config, database, schema, signing, stores
from kesah.contracts import RecordedEvent, utc_now
from kesah.eventstore import EventStore
from kesah.refusal import Refusal
from kesah.signing import Keyring
from kesah.groupcommit import GroupCommit

from . import domain, posts
from .channels import Post
from .photos import Photo

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

# Every post a channel delivered, once: the unique (channel, source_id) is
# what makes a webhook retry or a later import of the same post create
# nothing. A post with no complaint_id waits for an operator to give it the
# kind or kelurahan its text did not tell; meanwhile its author's contact
# data is sealed here (its key in the vault under the post's id), and moves
# to ``contacts`` when it is submitted.
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
    sa.UniqueConstraint("channel", "source_id", name="uq_channel_posts_source"),
    sa.Index("ix_channel_posts_waiting", "complaint_id", "received_at"),
)


photos = sa.Table(
    "photos",
    metadata,
    sa.Column("photo_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False, index=True),
    sa.Column("content_type", sa.String(40), nullable=False),
    sa.Column("listed", sa.Boolean, nullable=False),  # False for a confidential complaint: never served
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# Clients that may post through Open311 (api_key), stored as hashes.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("client", sa.String(40), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

vault_metadata = sa.MetaData()

contact_keys = sa.Table(
    "contact_keys",
    vault_metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("wrapped_key", sa.Text, nullable=False),
)


# What the reporter may still do: confirm an answer (selesai) or reopen it, once.
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), primary_key=True),
    sa.Column("answer_event_id", sa.String(36)),  # the latest answer (dijawab) not yet confirmed or reopened
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("reopened", sa.Boolean, nullable=False),
    sa.Column("rejected", sa.Boolean, nullable=False),
)

CONSUMER = "intake"


class ContactVault:
    """Each complaint's contact data under a key of its own, kept apart from the data."""

    def __init__(self, master_key: bytes, engine: Engine) -> None:
        self._master = Fernet(master_key)
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: config.Settings) -> "ContactVault":
        if settings.contact_key:
            master = settings.contact_key.encode("ascii")
        else:
            master = signing.load_or_create_secret(settings.keys_dir / "contact.key", Fernet.generate_key)
        engine = database.create_engine(settings.contact_vault_url)
        schema.prepare(engine, "contactvault")
        return cls(master, engine)

    def seal(self, complaint_id: str, contact: dict[str, str]) -> str:
        """Keep a new key for the complaint (or waiting post), committed at once; the
        ciphertext is the caller's to store."""
        (sealed,) = self.seal_many([(complaint_id, contact)])
        return sealed

    def seal_many(self, contacts: Sequence[tuple[str, dict[str, str]]]) -> list[str]:
        """``seal`` for several complaints, their keys in one commit."""
        keys = [Fernet.generate_key() for _ in contacts]
        ids = [complaint_id for complaint_id, _ in contacts]
        if contacts:
            with database.writing(self.engine) as conn:
                conn.execute(contact_keys.delete().where(contact_keys.c.complaint_id.in_(ids)))
                conn.execute(contact_keys.insert(), [
                    {"complaint_id": complaint_id, "wrapped_key": self._master.encrypt(key).decode("ascii")}
                    for complaint_id, key in zip(ids, keys)
                ])
        return [Fernet(key).encrypt(json.dumps(contact, sort_keys=True).encode("utf-8")).decode("ascii")
                for key, (_, contact) in zip(keys, contacts)]

    def open(self, complaint_id: str, ciphertext: str) -> dict[str, str] | None:
        """The contact data, or None once the complaint's key is destroyed."""
        with self.engine.connect() as conn:
            wrapped = conn.execute(
                sa.select(contact_keys.c.wrapped_key).where(contact_keys.c.complaint_id == complaint_id)
            ).scalar()
        if wrapped is None:
            return None
        try:
            key = self._master.decrypt(wrapped.encode("ascii"))
            return json.loads(Fernet(key).decrypt(ciphertext.encode("ascii")))
        except InvalidToken:
            return None

    def copy(self, from_id: str, to_id: str) -> None:
        """The same key under another id (a waiting post's, once it is a complaint)."""
        with database.writing(self.engine) as conn:
            wrapped = conn.execute(
                sa.select(contact_keys.c.wrapped_key).where(contact_keys.c.complaint_id == from_id)
            ).scalar()
            if wrapped is not None:
                conn.execute(contact_keys.insert().values(complaint_id=to_id, wrapped_key=wrapped))

    def destroy(self, complaint_id: str) -> bool:
        """Crypto-shredding: without its key, the complaint's ciphertext is noise everywhere."""
        with database.writing(self.engine) as conn:
            return conn.execute(contact_keys.delete().where(contact_keys.c.complaint_id == complaint_id)).rowcount > 0


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


class PostProblem(Refusal, LookupError):
    """A post cannot be completed as asked."""


@dataclass(frozen=True)
class Erasure:
    tracking_code: str
    event: RecordedEvent | None  # None: there was no contact data to erase


@dataclass(frozen=True)
class StoredPhoto:
    data: bytes
    content_type: str


class Intake:
    """Intake's state: its event store and its private tables."""

    def __init__(self, store: EventStore, vault: ContactVault, keyring: Keyring | None = None) -> None:
        self.store = store
        self.vault = vault
        self.keyring = keyring
        # Submissions that arrive together commit together (one fsync for all).
        self._submissions = GroupCommit(self._submit_together)

    @classmethod
    def open(cls, settings: config.Settings) -> "Intake":
        return cls(stores.owner_store(settings, "intake"), ContactVault.from_settings(settings),
                   stores.keyring(settings))

    def _free_code(self, conn: Connection) -> str:
        # Under the store's write lock, so check-then-insert cannot race.
        while True:
            code = domain.new_tracking_code()
            taken = conn.execute(sa.select(complaints.c.complaint_id).where(complaints.c.tracking_code == code)).first()
            if taken is None:
                return code

    def submit(self, submission: domain.Submission, photo: Photo | None = None) -> Accepted:
        """Record a complaint: private rows, the events and their outbox rows, in one commit.

        Concurrent submissions share that commit (``GroupCommit``); each
        caller returns only once its complaint is committed.
        """
        return self._submissions.write((submission, photo))

    def _submit_together(self, batch: Sequence[tuple[domain.Submission, Photo | None]]) -> list[Accepted]:
        ids = [str(uuid.uuid4()) for _ in batch]
        contacts = {complaint_id: contact for complaint_id, (submission, _) in zip(ids, batch)
                    if (contact := self._contact(submission))}
        sealed = dict(zip(contacts, self.vault.seal_many(list(contacts.items()))))
        with self.store.write() as conn:
            return [self._record(conn, submission, sealed=sealed.get(complaint_id), complaint_id=complaint_id,
                                 photo=photo)
                    for complaint_id, (submission, photo) in zip(ids, batch)]

    @staticmethod
    def _contact(submission: domain.Submission) -> dict[str, str]:
        """What of the reporter is kept (sealed): nothing for an anonymous submission."""
        if submission.visibility == "anonymous":
            return {}
        return {k: v for k, v in submission.reporter.items() if v}

    def _record(self, conn: Connection, submission: domain.Submission, sealed: str | None = None,
                complaint_id: str | None = None, photo: Photo | None = None) -> Accepted:
        """The complaint's rows and events in the caller's write transaction.

        ``sealed``: contact data sealed earlier (a post that waited; its key
        is already in the vault under ``complaint_id``); else the
        submission's reporter is sealed here. The vault commits on its own
        first: if this transaction fails, an unused key is all that remains.
        """
        complaint_id = complaint_id or str(uuid.uuid4())
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
        contact = self._contact(submission)
        if sealed is None and contact:
            sealed = self.vault.seal(complaint_id, contact)
        if sealed is not None:
            conn.execute(contacts.insert().values(complaint_id=complaint_id, ciphertext=sealed))
        new_events = [event]
        if photo is not None:
            attached = domain.photo_attached(event, photo)
            conn.execute(photos.insert().values(
                photo_id=attached.payload["photo_id"], complaint_id=complaint_id, content_type=photo.content_type,
                listed=submission.visibility != "confidential", data=photo.data,
            ))
            new_events.append(attached)
        self.store.append(conn, new_events, expected_version=0)
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
                row["contact_ciphertext"] = self.vault.seal(post_id, post.author)
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
                raise PostProblem(f"no post with id {post_id}", "Kiriman itu tidak ditemukan.", 404)
            if row.complaint_id is not None:
                code = conn.execute(sa.select(complaints.c.tracking_code)
                                    .where(complaints.c.complaint_id == row.complaint_id)).scalar()
                raise PostProblem(f"post {post_id} is a complaint already ({code})",
                                  f"Kiriman itu sudah menjadi aduan {code}.")
            kind, kelurahan = kind or row.kind, kelurahan or row.kelurahan
            if not kind or not kelurahan:
                missing = [(option, label) for option, label, v in (("--kind", "jenis", kind),
                                                                   ("--kelurahan", "kelurahan", kelurahan)) if not v]
                raise PostProblem(f"post {post_id} still needs " + " and ".join(o for o, _ in missing),
                                  "Kiriman ini masih memerlukan " + " dan ".join(w for _, w in missing) + ".")
            complaint_id = str(uuid.uuid4())
            if row.contact_ciphertext:
                self.vault.copy(post_id, complaint_id)
            post = Post(row.channel, row.source_id, row.text, row.source_url, posted_at=row.posted_at)
            accepted = self._record(conn, posts.submission(post, kind, kelurahan), row.contact_ciphertext,
                                    complaint_id)
            reasons = {**json.loads(row.reasons), "completed": "by an operator"}
            conn.execute(
                channel_posts.update().where(channel_posts.c.post_id == post_id).values(
                    complaint_id=accepted.complaint_id, kind=kind, kelurahan=kelurahan,
                    reasons=json.dumps(reasons, ensure_ascii=False),
                    contact_ciphertext=None,
                )
            )
        self.vault.destroy(post_id)  # the key now lives under the complaint's id
        return accepted

    def contact(self, complaint_id: str) -> dict[str, str] | None:
        """The reporter's contact data, or None when there is none or it was erased."""
        with self.store.engine.connect() as conn:
            ciphertext = conn.execute(
                sa.select(contacts.c.ciphertext).where(contacts.c.complaint_id == complaint_id)
            ).scalar()
        return None if ciphertext is None else self.vault.open(complaint_id, ciphertext)

    def find(self, tracking_code: str) -> str | None:
        """The complaint id of a tracking code."""
        with self.store.engine.connect() as conn:
            return conn.execute(
                sa.select(complaints.c.complaint_id).where(complaints.c.tracking_code == tracking_code)
            ).scalar()

    def erase(self, tracking_code: str) -> Erasure:
        """Erase the reporter's contact data of a complaint, for good, and record that it was.

        The key goes first: once it is destroyed the data is gone, whatever
        happens next. Safe to re-run: a run that stopped before recording
        the erasure records it the next time.
        """
        complaint_id = self.find(tracking_code)
        if complaint_id is None:
            raise LookupError(tracking_code)
        with self.store.engine.connect() as conn:
            held = conn.execute(
                sa.select(contacts.c.complaint_id).where(contacts.c.complaint_id == complaint_id)
            ).first() is not None
        if not held:
            return Erasure(tracking_code, None)
        self.vault.destroy(complaint_id)
        with self.store.write() as conn:
            conn.execute(contacts.delete().where(contacts.c.complaint_id == complaint_id))
            (recorded,) = self.store.append(conn, [domain.contact_erased(complaint_id, tracking_code)])
        return Erasure(tracking_code, recorded)

    def photo(self, photo_id: str) -> StoredPhoto | None:
        """A photo as served publicly; never one of a confidential complaint."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(photos.c.data, photos.c.content_type)
                .where(photos.c.photo_id == photo_id, photos.c.listed.is_(True))
            ).first()
        return StoredPhoto(row.data, row.content_type) if row else None

    # --- Open311 clients ---------------------------------------------------------------

    def issue_api_key(self, client: str) -> str:
        key = "o311_" + secrets.token_urlsafe(24)
        with self.store.write() as conn:
            conn.execute(api_keys.insert().values(key_hash=_key_hash(key), client=client, created_at=utc_now()))
        return key

    def api_client(self, key: str) -> str | None:
        with self.store.engine.connect() as conn:
            return conn.execute(sa.select(api_keys.c.client).where(api_keys.c.key_hash == _key_hash(key))).scalar()


    # --- the reporter's follow-up -------------------------------------------------

    def handle(self, event: RecordedEvent) -> None:
        """An answer or a rejection: what the reporter may do next. Idempotent by the tracking row."""
        with self.store.write() as conn:
            if self.store.handled(conn, CONSUMER, event.event_id):
                return
            state = self._followup(conn, event.correlation_id)
            if event.type == "ResponsePosted" and event.payload["status"] == "dijawab":
                state.update(answer_event_id=event.event_id)
            elif event.type == "ComplaintRejected":
                state.update(rejected=True)
            self._save_followup(conn, event.correlation_id, state)
            self.store.record_handled(conn, CONSUMER, event.event_id)

    @staticmethod
    def _followup(conn: Connection, complaint_id: str) -> dict[str, object]:
        row = conn.execute(sa.select(followups).where(followups.c.complaint_id == complaint_id)).first()
        if row is None:
            return {"answer_event_id": None, "closed": False, "reopened": False, "rejected": False, "new": True}
        return {**row._mapping, "new": False}

    @staticmethod
    def _save_followup(conn: Connection, complaint_id: str, state: dict[str, object]) -> None:
        values = {k: v for k, v in state.items() if k not in ("new", "complaint_id")}
        if state["new"]:
            conn.execute(followups.insert().values(complaint_id=complaint_id, **values))
        else:
            conn.execute(followups.update().where(followups.c.complaint_id == complaint_id).values(**values))

    def follow_up(self, tracking_code: str, secret: str, action: str, comment: str) -> RecordedEvent:
        """The reporter, proven by the secret, confirms (``selesai``) or reopens (``buka``).

        LookupError: no such complaint; domain.WrongSecret; domain.NotNow (the state does not allow it).
        """
        with self.store.write() as conn:
            row = conn.execute(sa.select(complaints).where(complaints.c.tracking_code == tracking_code)).first()
            if row is None:
                raise LookupError(tracking_code)
            if not domain.secret_matches(row.secret_hash, secret):
                raise domain.WrongSecret()
            state = self._followup(conn, row.complaint_id)
            event = domain.follow_up(row.complaint_id, tracking_code, state, action, comment)
            (recorded,) = self.store.append(conn, [event])
            if action == "selesai":
                state.update(closed=True, answer_event_id=None)
            else:
                state.update(reopened=True, closed=False, answer_event_id=None)
            self._save_followup(conn, row.complaint_id, state)
        return recorded


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.strip().encode("utf-8")).hexdigest()
