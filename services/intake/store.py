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

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Connection

from kesah import config, stores
from kesah.eventstore import EventStore

from . import domain

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
        complaint_id = str(uuid.uuid4())
        secret = domain.new_secret()
        with self.store.write() as conn:
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
            if contact and submission.visibility != "anonymous":
                ciphertext, wrapped = self.vault.seal(contact)
                conn.execute(contacts.insert().values(complaint_id=complaint_id, ciphertext=ciphertext))
                conn.execute(contact_keys.insert().values(complaint_id=complaint_id, wrapped_key=wrapped))
            self.store.append(conn, [event], expected_version=0)
        return Accepted(complaint_id, code, secret, event.occurred_at)

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
