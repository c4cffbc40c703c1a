"""Fixtures of the console tests: the console over a migrated SQLite store (a real file;
the store contract suites run every operation on PostgreSQL too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passerelle.store.base import Store
from tests.consolekit import ConsoleClient, console_app
from tests.support import make_settings, sqlite_store


@pytest.fixture
async def console_store(tmp_path: Path) -> AsyncIterator[Store]:
    """The store the console runs on."""
    store = await sqlite_store(tmp_path / "console.db")
    yield store
    await store.close()


@pytest.fixture
async def visitor(console_store: Store) -> AsyncIterator[ConsoleClient]:
    """An anonymous browser on a fresh console."""
    settings = make_settings(signups_per_hour=0)
    app, gateway = console_app(console_store, settings)
    client = ConsoleClient.of(app, console_store)
    yield client
    await client.http.aclose()
    gateway.close()
