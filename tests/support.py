"""Helpers shared by every test layer (imported as `tests.support`)."""

from __future__ import annotations

import asyncio
import atexit
import os
from pathlib import Path

import asyncpg
import httpx

from passerelle.api.app import App
from passerelle.settings import Settings
from passerelle.store import migrate
from passerelle.store.schema import metadata
from passerelle.store.sqlite import SqliteStore

PASSWORD = "secret-pass-1"


def make_settings(**overrides: object) -> Settings:
    """Settings for tests: no .env, no access log, explicit values."""
    base: dict[str, object] = {"database_url": "memory://", "access_log": False}
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


async def sqlite_store(path: Path) -> SqliteStore:
    """A migrated, opened SQLite store on a real file."""
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    store = SqliteStore(str(path))
    await store.open()
    return store


def asgi_client(app: App) -> httpx.AsyncClient:
    """An HTTP client calling the ASGI app in-process."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


_PG: dict[str, str] = {}


async def postgres_database() -> str:
    """The URL of this test run's migrated PostgreSQL database, emptied for the caller."""
    url = _PG.get("url")
    if url is not None:
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        conn = await asyncpg.connect(url)
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await conn.close()
        return url
    admin = os.environ.get(
        "PASSERELLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    name = f"passerelle_t_{os.getpid()}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    url = admin.rsplit("/", 1)[0] + "/" + name

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()

    atexit.register(lambda: asyncio.run(drop()))
    migrate.upgrade(url)
    _PG["url"] = url
    return url
