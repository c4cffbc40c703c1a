"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passerelle.api.app import App
from passerelle.service import Gateway
from passerelle.store.base import Store
from passerelle.store.memory import MemoryStore
from passerelle.wiring import create_app
from tests.support import make_settings, sqlite_store


@pytest.fixture
async def memory_gateway() -> AsyncIterator[Gateway]:
    """A gateway over the in-memory twin."""
    store = MemoryStore()
    await store.open()
    yield Gateway(store, make_settings())
    await store.close()


@pytest.fixture
async def app_factory(
    tmp_path: Path,
) -> AsyncIterator[object]:
    """Builds apps over a store kind ('memory' or 'sqlite'); closes them afterwards."""
    opened: list[Store] = []

    async def build(kind: str = "memory", **overrides: object) -> App:
        if kind == "sqlite":
            store: Store = await sqlite_store(tmp_path / f"db{len(opened)}.sqlite")
        else:
            store = MemoryStore()
            await store.open()
        opened.append(store)
        return create_app(make_settings(**overrides), store)

    yield build
    for store in opened:
        await store.close()
