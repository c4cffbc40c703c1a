"""The batched accept path of the SQLite writer: same outcomes as one write at a time."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from passerelle.core.values import CreditChange, NewAccount, NewMessage
from passerelle.exceptions import NoCredit
from passerelle.store.sqlite import SqliteStore
from tests.support import sqlite_store


def message(account_id: int, dest: str = "33612345678", count: int = 1) -> NewMessage:
    recipients = tuple(str(int(dest) + i) for i in range(count))
    return NewMessage(account_id, 2.0, "S", 5, "t", False, False, recipients, count)


async def hold_writer(store: SqliteStore) -> tuple[threading.Event, asyncio.Future[Any]]:
    """Keep the writer thread busy until the event is set (so the next submits share a batch)."""
    entered = threading.Event()
    release = threading.Event()

    def block(_conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(10)

    held = store.writer.submit(block)
    await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
    return release, held


def totals(path: Path, login: str) -> tuple[int, int, int]:
    """(credits, ledger sum, messages) of an account, read from the file."""
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT a.credits, (SELECT coalesce(sum(delta), 0) FROM ledger l"
            " WHERE l.account_id = a.id), (SELECT count(*) FROM messages m"
            " WHERE m.account_id = a.id) FROM accounts a WHERE a.login = ?",
            (login,),
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """A fresh database file path."""
    yield tmp_path / "w.db"


async def test_credit_shortfall_refuses_exactly_the_late_ones(db: Path) -> None:
    """In one batch, an account short of credit gets its first messages in, the rest 02."""
    store = await sqlite_store(db)
    try:
        poor = await store.create_account(NewAccount("poor", "p@x.fr", "h", "s", 1.0, credits=5))
        rich = await store.create_account(NewAccount("rich", "r@x.fr", "h", "s", 1.0, credits=99))
        release, held = await hold_writer(store)
        costs = [2, 1, 3, 1, 2]  # 2 + 1 fit, 3 does not, 1 fits, 2 does not
        poor_futures = [
            asyncio.ensure_future(store.accept_message(message(poor.id, count=c))) for c in costs
        ]
        rich_futures = [asyncio.ensure_future(store.accept_message(message(rich.id)))]
        await asyncio.sleep(0.05)  # let every accept reach the queue
        release.set()
        await held
        outcomes = await asyncio.gather(*poor_futures, *rich_futures, return_exceptions=True)
        refused = [isinstance(o, NoCredit) for o in outcomes]
        assert refused == [False, False, True, False, True, False]
        assert totals(db, "poor") == (1, 1, 3)
        assert totals(db, "rich") == (98, 98, 1)
    finally:
        await store.close()


async def test_msgid_collision_redoes_the_batch_and_keeps_everything(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A msgid drawn twice in one batch: every message is still stored once, debited once."""
    store = await sqlite_store(db)
    try:
        account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 1.0, credits=50))
        monkeypatch.setattr(store._msgids, "draw", lambda: 123456789)
        release, held = await hold_writer(store)
        futures = [
            asyncio.ensure_future(store.accept_message(message(account.id))) for _ in range(4)
        ]
        await asyncio.sleep(0.05)
        release.set()
        await held
        msgids = await asyncio.gather(*futures)
        assert len(set(msgids)) == 4
        assert 123456789 in msgids
        assert totals(db, "a") == (46, 46, 4)
        with sqlite3.connect(db) as conn:
            debits = conn.execute("SELECT count(*) FROM ledger WHERE kind = 'debit'").fetchone()
            recipients = conn.execute("SELECT count(DISTINCT msgid) FROM recipients").fetchone()
        assert (debits[0], recipients[0]) == (4, 4)
    finally:
        await store.close()


async def test_generic_operations_keep_their_place_among_accepts(db: Path) -> None:
    """An accept refused for credit, a credit grant, then an accept, all in one batch: in order."""
    store = await sqlite_store(db)
    try:
        account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 1.0, credits=0))
        release, held = await hold_writer(store)
        first = asyncio.ensure_future(store.accept_message(message(account.id)))
        grant = asyncio.ensure_future(
            store.adjust_credits("a", 1, kind="grant", actor="t", reason="t", at=3.0)
        )
        second = asyncio.ensure_future(store.accept_message(message(account.id)))
        await asyncio.sleep(0.05)
        batches = store.writer.batches
        release.set()
        await held
        outcomes = await asyncio.gather(first, grant, second, return_exceptions=True)
        assert isinstance(outcomes[0], NoCredit)
        assert outcomes[1] == CreditChange(1, 1)
        assert isinstance(outcomes[2], int)
        assert store.writer.batches - batches == 2  # the held batch and the shared one
        assert totals(db, "a") == (0, 0, 1)
    finally:
        await store.close()


async def test_large_message_and_singles_share_a_batch(db: Path) -> None:
    """A 1 000-recipient message and single ones in one batch: every recipient row is stored."""
    store = await sqlite_store(db)
    try:
        account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 1.0, credits=2000))
        release, held = await hold_writer(store)
        big = asyncio.ensure_future(store.accept_message(message(account.id, count=1000)))
        small = [
            asyncio.ensure_future(store.accept_message(message(account.id, "33700000000")))
            for _ in range(3)
        ]
        await asyncio.sleep(0.05)
        release.set()
        await held
        msgids = await asyncio.gather(big, *small)
        with sqlite3.connect(db) as conn:
            counts = [
                conn.execute("SELECT count(*) FROM recipients WHERE msgid = ?", (m,)).fetchone()[0]
                for m in msgids
            ]
        assert counts == [1000, 1, 1, 1]
        assert totals(db, "a") == (997, 997, 4)
    finally:
        await store.close()
