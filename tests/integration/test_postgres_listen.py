"""PostgreSQL wakes workers across processes: a message accepted by one store wakes the
dispatcher of another (LISTEN/NOTIFY), also after the listening connection was lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from passerelle.core.values import NewAccount, NewMessage
from passerelle.store import postgres
from passerelle.store.postgres import PgStore


@pytest.fixture
async def two(postgres_url: str) -> AsyncIterator[tuple[PgStore, PgStore]]:
    """Two stores on one database, as two processes would hold them."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def accept_one(store: PgStore) -> int:
    account = await store.create_account(
        NewAccount("acme", "a@example.com", "h", "s", 1000.0, credits=5)
    )
    message = NewMessage(account.id, 2000.0, "Shop", 5, "hi", False, False, ("33612345678",), 1)
    return await store.accept_message(message)


async def test_an_accept_wakes_the_other_process(two: tuple[PgStore, PgStore]) -> None:
    """The other store's wait for work ends within a second of the commit."""
    waiting, accepting = two
    waiter = asyncio.ensure_future(waiting.wait_for_work(5.0))
    await asyncio.sleep(0.1)
    await accept_one(accepting)
    assert await asyncio.wait_for(waiter, 1.0) is True


async def test_listening_again_after_the_connection_died(
    two: tuple[PgStore, PgStore], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listening connection killed by the server: the store listens again and is
    woken by the next accept."""
    monkeypatch.setattr(postgres, "RELISTEN_S", 0.2)
    waiting, accepting = two
    await waiting.close()
    await waiting.open()  # its keeper now looks every 0.2 s
    assert waiting._listener is not None
    pid = waiting._listener.get_server_pid()
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    for _ in range(50):
        await asyncio.sleep(0.1)
        listener = waiting._listener
        if listener is not None and not listener.is_closed() and listener.get_server_pid() != pid:
            break
    waiter = asyncio.ensure_future(waiting.wait_for_work(5.0))
    await asyncio.sleep(0.1)
    await accept_one(accepting)
    assert await asyncio.wait_for(waiter, 1.0) is True
