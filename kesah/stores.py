"""Opening the stores a process needs, from the settings."""

from __future__ import annotations

from . import config, database, schema, signing
from .eventstore import EventStore


def owner_store(settings: config.Settings, service: str) -> EventStore:
    """The event store of an owning service, with its signing key, its database at the code's schema."""
    signer = signing.load_signer(settings.keys_dir, service, settings.signing_keys.get(service))
    store = EventStore(database.create_engine(settings.database_url(service)), service, signer)
    schema.prepare(store.engine, service)
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
