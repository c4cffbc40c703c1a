"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from passerelle.api.app import App
from passerelle.service import Gateway
from passerelle.store.base import Store
from passerelle.store.memory import MemoryStore
from passerelle.wiring import create_app
from tests import pgserver
from tests.support import make_settings, sqlite_store


def pytest_configure(config: pytest.Config) -> None:
    """PASSERELLE_TEST_POSTGRES_URL leaves the environment before any test runs: the CLI
    warns about PASSERELLE_* variables it does not know (tests/pgserver.py keeps it)."""
    pgserver.take_configured_url()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which PostgreSQL the run used, and why, when it used one."""
    if pgserver.session().note:
        terminalreporter.write_line(f"PostgreSQL for the tests: {pgserver.session().note}")


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


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """The run's PostgreSQL admin URL (`tests.pgserver`): PASSERELLE_TEST_POSTGRES_URL if
    it answers, else a throwaway server. None at all: fails under CI, skips elsewhere.
    At the end of the session its databases are dropped and a throwaway server stopped."""
    yield pgserver.required_admin_url()
    pgserver.close()


@pytest.fixture(scope="session")
def postgres_session_url(postgres_admin_url: str) -> str:
    """The session's migrated PostgreSQL database, which `postgres_url` empties before
    each test (dropped at the end of the session)."""
    return pgserver.migrated_database()


@pytest.fixture
def postgres_url(postgres_session_url: str) -> str:
    """A migrated PostgreSQL database with every table empty and every identity restarted:
    the session's, emptied now by TRUNCATE ... RESTART IDENTITY CASCADE (20-80 ms; a new
    database per test measured 60-390 ms: tests/pgserver.py). A test that needs a
    database of its own takes pgserver.migrated_database()."""
    pgserver.empty_database(postgres_session_url)
    return postgres_session_url
