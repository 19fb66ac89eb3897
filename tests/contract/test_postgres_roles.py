"""Least privilege on PostgreSQL, proven by PostgreSQL itself.

Each test makes roles and databases with unique names through the same
``init_roles`` + ``migrate`` an operator runs, connects with the app's
credentials and tries what an intruder holding them would try.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa

from kesah import config, database, roles, schema, signing
from kesah.eventstore import EventStore
from tests.contract.eventstore_contract import submitted
from tests.support import services

pytestmark = pytest.mark.postgres

ADMIN = services.pg_url("postgres")


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[config.Settings, dict[str, roles.ServiceDatabase]]]:
    suffix = uuid.uuid4().hex[:8]
    host = services.PG_SERVER.split("@", 1)[1]
    env = {"KESAH_DB_ADMIN_URL": ADMIN}
    for service in config.SERVICES:
        env[f"KESAH_{service.upper()}_DB_URL"] = f"postgresql://kt_{service}_{suffix}:pw-{suffix}@{host}/kt_{service}_db_{suffix}"
    settings = config.load(env)
    access = {s: roles.ServiceDatabase.from_url(s, settings.database_url(s)) for s in config.SERVICES}
    try:
        roles.init_roles(ADMIN, settings, config.SERVICES)
        roles.init_roles(ADMIN, settings, config.SERVICES)  # idempotent
        schema.migrate(settings, config.SERVICES)
        yield settings, access
    finally:
        for a in access.values():
            roles.drop(ADMIN, a)


def connect(settings: config.Settings, service: str, database_of: str | None = None):  # type: ignore[no-untyped-def]
    """psycopg2 with a service's credentials, to its own database or another's."""
    url = sa.make_url(settings.database_url(service))
    if database_of:
        url = url.set(database=sa.make_url(settings.database_url(database_of)).database)
    conn = psycopg2.connect(url.render_as_string(hide_password=False).replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    return conn


def refused(conn, sql: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(psycopg2.Error) as caught, conn.cursor() as cursor:
        cursor.execute(sql)
    assert caught.value.pgcode == "42501", caught.value  # insufficient_privilege
    return str(caught.value)


def test_the_app_role_works_but_cannot_rewrite_history(deployment) -> None:  # type: ignore[no-untyped-def]
    settings, _ = deployment
    store = EventStore(database.create_engine(settings.database_url("intake")), "intake", signing.Signer.generate("intake"))
    try:
        schema.prepare(store.engine, "intake")  # the app's check passes with its own role
        with store.write() as conn:
            recorded = store.append(conn, [submitted(), submitted()])
            store.record_handled(conn, "intake-test", recorded[0].event_id)
        assert [e.position for e in store.pending(10)] == [1, 2]
        store.mark_published([1, 2])  # the relay deletes outbox rows
        assert store.outbox_size() == 0
    finally:
        store.engine.dispose()

    conn = connect(settings, "intake")
    try:
        assert "permission denied for table events" in refused(conn, "UPDATE events SET payload = '{}' WHERE position = 1")
        assert "permission denied for table events" in refused(conn, "DELETE FROM events WHERE position = 2")
        refused(conn, "TRUNCATE events")
        refused(conn, "ALTER TABLE events DISABLE TRIGGER events_append_only")
        refused(conn, "DROP TABLE events")
        refused(conn, "CREATE TABLE mine (x int)")
        refused(conn, "UPDATE alembic_version_eventstore SET version_num = '0001'")
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events")
            assert cursor.fetchone() == (2,)
    finally:
        conn.close()


def test_even_the_owner_cannot_update_or_delete_events(deployment) -> None:  # type: ignore[no-untyped-def]
    settings, access = deployment
    conn = psycopg2.connect(access["routing"].admin_url(ADMIN))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'SET ROLE "{access["routing"].owner}"')
            cursor.execute(
                "INSERT INTO events VALUES (1, 'e1', 'routing', 'ComplaintRouted', 1, 's', 1, 't', NULL, 's', '{}',"
                " 'p', 'h', 'k', 'sig')"
            )
        for sql in ("UPDATE events SET payload = '{\"forged\": true}'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(psycopg2.Error, match="the events table is append-only"), conn.cursor() as cursor:
                cursor.execute(sql)
    finally:
        conn.close()


def test_publicview_cannot_touch_the_owners_databases(deployment) -> None:  # type: ignore[no-untyped-def]
    settings, _ = deployment
    for owner in config.OWNERS:
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            connect(settings, "publicview", database_of=owner).close()
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        connect(settings, "intake", database_of="responses").close()

    conn = connect(settings, "publicview")
    try:
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO checkpoint VALUES ('test', 1)")
            cursor.execute("UPDATE checkpoint SET seq = 2 WHERE name = 'test'")
            cursor.execute("DELETE FROM complaints")
            # The full-text index is raw DDL, granted all the same.
            cursor.execute("INSERT INTO complaint_search VALUES ('x', to_tsvector('simple', 'jalan'))")
            cursor.execute("DELETE FROM complaint_search")
        refused(conn, "DELETE FROM journal")
        refused(conn, "UPDATE journal SET payload = '{}'")
    finally:
        conn.close()


def test_a_service_may_not_run_as_the_admin() -> None:
    settings = config.load({"KESAH_INTAKE_DB_URL": ADMIN.rsplit("/", 1)[0] + "/intake_db"})
    with pytest.raises(roles.RoleError, match="may not use the admin's role"):
        roles.init_roles(ADMIN, settings, ["intake"])
