"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passerelle.store.base import Store
from passerelle.store.memory import MemoryStore
from passerelle.store.postgres import PgStore
from tests.support import sqlite_store


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend, opened on a fresh database."""
    if request.param == "sqlite":
        s: Store = await sqlite_store(tmp_path / "contract.db")
    elif request.param == "postgres":
        s = PgStore(request.getfixturevalue("postgres_url"))
        await s.open()
    else:
        s = MemoryStore()
        await s.open()
    yield s
    await s.close()
