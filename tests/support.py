"""Helpers shared by every test layer (imported as `tests.support`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from passerelle.api.app import App
from passerelle.settings import Settings
from passerelle.store import migrate
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
