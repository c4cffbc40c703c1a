"""Alembic migrations on real SQLite files and on PostgreSQL: they build exactly the
described schema, and upgrading keeps the rows already there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from passerelle.store import migrate
from passerelle.store.schema import metadata
from tests import pgserver


def test_migrations_build_the_described_schema(tmp_path: Path) -> None:
    """`db upgrade` on an empty file gives tables, columns and indexes equal to schema.py."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


async def test_migrations_build_the_described_schema_on_postgresql(
    postgres_admin_url: str,
) -> None:
    """`db upgrade` on an empty PostgreSQL database gives tables, columns and indexes
    equal to schema.py."""
    url = pgserver.new_database()
    migrate.upgrade(url)
    engine = create_async_engine(migrate.sqlalchemy_url(url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        assert differences == []
    finally:
        await engine.dispose()


CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, character_maximum_length,"
    " is_nullable, column_default FROM information_schema.columns"
    " WHERE table_schema = 'public' AND table_name <> 'alembic_version'",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
    " AND conrelid::regclass::text <> 'alembic_version'",
}


async def catalog(url: str) -> dict[str, set[tuple[object, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        return {name: {tuple(row) for row in await conn.fetch(q)} for name, q in CATALOG.items()}
    finally:
        await conn.close()


async def test_postgresql_migrations_equal_create_all_down_to_defaults_and_checks(
    postgres_admin_url: str,
) -> None:
    """On PostgreSQL, the migrated schema and schema.py's create_all have the same columns
    (types, defaults), indexes (partial ones' predicates) and constraints (names, CHECKs),
    which compare_metadata does not all look at."""
    migrated, created = pgserver.new_database(), pgserver.new_database()
    migrate.upgrade(migrated)
    engine = create_async_engine(migrate.sqlalchemy_url(created))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    expected = await catalog(created)
    assert all(expected.values())
    assert await catalog(migrated) == expected


def test_0004_keeps_events_and_never_gives_an_event_id_twice(tmp_path: Path) -> None:
    """Events written before 0004 survive it, and once every one of them is deleted (a
    purge) the next event still gets a new id: receivers deduplicate on event_id."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, "0003")
    event = (
        "INSERT INTO callback_events (account_id, msgid, dest, statut, stat, occurred_at,"
        " created_at, state, next_attempt_at) VALUES (1, ?, '33600000001', 1, 'DELIVRD',"
        " 1.0, 1.0, 1, 1.0)"
    )
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO accounts (login, email, api_password_hash, activated, gateway_enabled,"
            " suspended, credits, callback_method, callback_secret, created_at, updated_at)"
            " VALUES ('a', 'a@x.fr', 'h', 1, 1, 0, 0, 'POST', 's', 1.0, 1.0)"
        )
        conn.executemany(event, [(111111111,), (222222222,)])
    conn.close()
    migrate.upgrade(url)
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, msgid FROM callback_events ORDER BY id").fetchall()
        assert rows == [(1, 111111111), (2, 222222222)]
        with conn:
            conn.execute("DELETE FROM callback_events")
            conn.execute(event, (333333333,))
        assert conn.execute("SELECT id FROM callback_events").fetchall() == [(3,)]
    finally:
        conn.close()
