"""Schemas come only from the migrations, and the migrations match the tables in code.

The same checks on SQLite and PostgreSQL. A table changed in code without a
migration fails ``test_migrations_at_head_match_the_tables_in_code``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
from alembic import command

from kesah import database, schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    if request.param == "sqlite":
        made = iter(range(1000))
        return lambda: f"sqlite:///{tmp_path / f'db{next(made)}.sqlite'}"
    return request.getfixturevalue("make_pg_database")


def test_every_component_has_one_head() -> None:
    for name in schema.COMPONENTS:
        assert len(schema.heads(name)) == 1, f"{name} has several heads: merge them"


def test_every_database_component_is_known() -> None:
    for service, components in schema.DATABASES.items():
        assert set(components) <= set(schema.COMPONENTS), service


@pytest.mark.parametrize("component", sorted(schema.COMPONENTS))
def test_migrations_at_head_match_the_tables_in_code(component: str, new_url: Callable[[], str]) -> None:
    engine = database.create_engine(new_url())
    try:
        assert schema.upgrade(engine, [component]) == [component]
        with engine.connect() as conn:
            differences = schema.differences(conn, component)
        assert differences == [], f"tables in code differ from {component}'s migrations: kesah db revision {component}"
    finally:
        engine.dispose()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_is_idempotent_and_downgrade_undoes_it(new_url: Callable[[], str]) -> None:
    engine = database.create_engine(new_url())
    try:
        assert schema.upgrade(engine, schema.DATABASES["responses"]) == list(schema.DATABASES["responses"])
        assert {"events", "outbox", "handled", "agencies", "cases", "accounts"} <= tables(engine)
        assert schema.upgrade(engine, schema.DATABASES["responses"]) == []
        schema.check(engine, schema.DATABASES["responses"])

        with database.writing(engine) as conn:
            command.downgrade(schema.alembic_config("responses", conn), "base")
        assert "cases" not in tables(engine) and "events" in tables(engine)
        with pytest.raises(schema.SchemaError, match=r"run 'kesah migrate responses'"):
            schema.check(engine, schema.DATABASES["responses"], "responses")
        assert schema.upgrade(engine, schema.DATABASES["responses"]) == ["responses"]
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_once(new_url: Callable[[], str]) -> None:
    # Opening a new SQLite file together races for its switch to WAL mode, a
    # race lost only now and then: several new files make a lost race show.
    first = new_url()
    urls = [first] + [new_url() for _ in range(19)] if first.startswith("sqlite") else [first]
    for url in urls:
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def start() -> None:
            engine = database.create_engine(url)
            try:
                results.append(schema.upgrade(engine, schema.DATABASES["intake"]))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(results) == [[], [], [], list(schema.DATABASES["intake"])]


def test_a_database_made_before_migrations_is_adopted(new_url: Callable[[], str]) -> None:
    engine = database.create_engine(new_url())
    try:
        with database.writing(engine) as conn:
            schema.COMPONENTS["eventstore"].metadata().create_all(conn)
            schema.COMPONENTS["intake"].metadata().create_all(conn)
        assert schema.upgrade(engine, schema.DATABASES["intake"]) == list(schema.DATABASES["intake"])
        schema.check(engine, schema.DATABASES["intake"])
    finally:
        engine.dispose()


def test_opening_migrates_sqlite_but_only_checks_postgres(new_url: Callable[[], str]) -> None:
    engine = database.create_engine(new_url())
    try:
        if database.is_sqlite(engine):
            schema.prepare(engine, "publicview")
            assert "journal" in tables(engine)
        else:
            with pytest.raises(schema.SchemaError, match=r"publicview's database is not migrated .*kesah migrate publicview"):
                schema.prepare(engine, "publicview")
            assert tables(engine) == set()
    finally:
        engine.dispose()
