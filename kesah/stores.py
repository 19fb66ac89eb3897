"""Opening the stores a process needs, from the settings."""

from __future__ import annotations

import sqlalchemy as sa

from . import config, database, signing
from .eventstore import EventStore


def owner_store(settings: config.Settings, service: str, *extra: sa.MetaData) -> EventStore:
    """The event store of an owning service, with its signing key and tables."""
    signer = signing.load_signer(settings.keys_dir, service, settings.signing_keys.get(service))
    store = EventStore(database.create_engine(settings.database_url(service)), service, signer)
    store.create_schema(*extra)
    return store


def reader_store(settings: config.Settings, service: str) -> EventStore:
    """An owner's store opened for reading only (no key: it cannot append)."""
    return EventStore(database.create_engine(settings.database_url(service)), service, None)


def keyring(settings: config.Settings) -> signing.Keyring:
    """The public keys every verifier trusts."""
    signers = [
        signing.Signer.from_base64(service, value) for service, value in settings.signing_keys.items()
    ]
    return signing.load_keyring(settings.keys_dir, config.OWNERS, signers)
