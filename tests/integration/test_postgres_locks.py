"""PostgreSQL runs under concurrency: an accept batch is not held back by another
transaction inserting rows that reference its accounts, and a run that fails in an
unexpected way answers its callers and lets the next run through."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from passerelle.core.values import NewAccount, NewMessage
from passerelle.exceptions import StoreError
from passerelle.store.postgres import PgStore
from passerelle.store.postgres_batch import RunBatcher


async def test_accepts_are_not_held_by_rows_referencing_their_accounts(
    postgres_url: str,
) -> None:
    """While another transaction holds an uncommitted ledger row for account B, a batch
    accepting for A and B commits at once (its account locks leave key-share alone)."""
    store = PgStore(postgres_url)
    await store.open()
    try:
        a = await store.create_account(NewAccount("a", "a@example.com", "h", "s", 1.0, credits=5))
        b = await store.create_account(NewAccount("b", "b@example.com", "h", "s", 1.0, credits=5))
        other = await asyncpg.connect(postgres_url)
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "INSERT INTO ledger (account_id, at, delta, kind, actor, reason)"
            " VALUES ($1, 1.0, 0, 'note', 'test', 'holding a key share')",
            b.id,
        )
        try:
            accepts = [
                store.accept_message(
                    NewMessage(acc.id, 2.0, "Shop", 5, "hi", False, False, ("33612345678",), 1)
                )
                for acc in (a, b)
            ]
            msgids = await asyncio.wait_for(asyncio.gather(*accepts), 2.0)
            assert len(set(msgids)) == 2
        finally:
            await tx.rollback()
            await other.close()
    finally:
        await store.close()


async def test_a_run_that_raises_answers_and_the_next_one_runs(postgres_url: str) -> None:
    """An unexpected error in a run fails its callers with StoreError; later runs work."""
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=2)
    calls: list[list[int]] = []

    async def apply(conn: object, items: list[int]) -> list[int | Exception]:
        calls.append(items)
        if len(calls) == 1:
            raise ValueError("a bug")
        return [i * 2 for i in items]

    batcher: RunBatcher[int, int] = RunBatcher(pool, apply)  # type: ignore[arg-type]
    batcher.start()
    try:
        with pytest.raises(StoreError):
            await asyncio.wait_for(batcher.submit(1), 2.0)
        assert await asyncio.wait_for(batcher.submit(21), 2.0) == 42
    finally:
        await batcher.stop()
        await pool.close()
