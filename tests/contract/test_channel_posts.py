"""Exactly once is the store's promise: concurrent deliveries of the same posts, on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kesah import database, schema, signing
from kesah.eventstore import EventStore, events
from services.intake.channels import Post
from services.intake.store import ContactVault, Intake, channel_posts

POSTS = [Post("facebook", f"post-{i}", f"Jln berlubang di Loktuan nomor {i}", author={"name": f"Warga {i}"})
         for i in range(20)]


def open_intake(url: str, vault_dir: Path) -> Intake:
    store = EventStore(database.create_engine(url), "intake", signing.Signer.generate("intake"))
    store.create_schema()
    return Intake(store, open_vault(vault_dir))


def open_vault(directory: Path) -> ContactVault:
    engine = database.create_engine(f"sqlite:///{tempfile.mkdtemp(prefix='vault-', dir=directory)}/vault.db")
    schema.prepare(engine, "contactvault")
    return ContactVault(Fernet.generate_key(), engine)


def deliver_concurrently(url: str, vault_dir: Path) -> Intake:
    writers = [open_intake(url, vault_dir) for _ in range(4)]
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(intake: Intake) -> None:
        try:
            for receipt in intake.receive_posts(POSTS):
                outcomes.append(receipt.outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(set(outcomes)) == ["duplicate", "submitted"]
    assert outcomes.count("submitted") == len(POSTS) and outcomes.count("duplicate") == 3 * len(POSTS)
    return writers[0]


def check_once(intake: Intake) -> None:
    with intake.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == len(POSTS)
        assert conn.execute(sa.select(sa.func.count()).select_from(channel_posts)).scalar() == len(POSTS)
        # Even a writer that skips the lock cannot add the same post twice.
        row = conn.execute(sa.select(channel_posts).limit(1)).first()._mapping
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(channel_posts.insert().values({**row, "post_id": "another", "complaint_id": None}))


def test_the_same_posts_delivered_at_once_become_one_complaint_each_sqlite(tmp_path: Path) -> None:
    check_once(deliver_concurrently(f"sqlite:///{tmp_path / 'intake.db'}", tmp_path))


@pytest.mark.postgres
def test_the_same_posts_delivered_at_once_become_one_complaint_each_postgres(
    make_pg_database: Callable[[], str], tmp_path: Path,
) -> None:
    check_once(deliver_concurrently(make_pg_database(), tmp_path))
