"""Alembic environment: runs migrations on the connection or URL given by `migrate.py`.

SQLite runs on a plain engine; PostgreSQL on an asyncpg engine (the store's driver:
no second driver to install), in a loop of its own (`migrate.py` runs this in a thread).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from passerelle.store.schema import metadata

LOCK_KEY = 0x7061737365  # "passe": the migrations' advisory lock on PostgreSQL
config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    """Apply the migrations on `conn` in one transaction."""
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            # processes of a cluster starting at once migrate one after the other: the
            # second finds the schema at head and does nothing
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            await conn.run_sync(run)
            await conn.commit()
    finally:
        await engine.dispose()


if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or ""
    if "+asyncpg" in url.split("://", 1)[0]:
        asyncio.run(run_async(url))
    else:
        engine = create_engine(url)
        with engine.connect() as conn:
            run(conn)
        engine.dispose()
