"""SQLite specifics: WAL + synchronous=FULL, group commit, answers only after commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from passerelle.core.values import NewAccount, NewMessage
from passerelle.wiring import create_app
from tests.support import PASSWORD, asgi_client, make_settings, sqlite_store


async def test_wal_and_full_sync(tmp_path: Path) -> None:
    """The writer uses WAL journal mode and synchronous=FULL (2)."""
    store = await sqlite_store(tmp_path / "d.db")
    try:
        mode, sync = await store.writer.submit(
            lambda c: (
                c.execute("PRAGMA journal_mode").fetchone()[0],
                c.execute("PRAGMA synchronous").fetchone()[0],
            )
        )
        assert (mode, sync) == ("wal", 2)
    finally:
        await store.close()


async def test_group_commit_shares_transactions_and_is_visible_at_answer(tmp_path: Path) -> None:
    """200 concurrent accepts commit in fewer transactions; each is on disk when it returns."""
    path = tmp_path / "g.db"
    store = await sqlite_store(path)
    try:
        account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 1.0, credits=1000))
        before = store.writer.batches
        other = sqlite3.connect(path)

        async def one() -> bool:
            msgid = await store.accept_message(
                NewMessage(account.id, 2.0, "S", 5, "t", False, False, ("33612345678",), 1)
            )
            # a separate connection sees the row as soon as the answer is given
            row = other.execute("SELECT count(*) FROM messages WHERE msgid = ?", (msgid,))
            return bool(row.fetchone()[0] == 1)

        seen = await asyncio.gather(*(one() for _ in range(200)))
        assert all(seen)
        assert store.writer.batches - before < 200
        other.close()
    finally:
        await store.close()


async def test_credits_race_over_http_on_sqlite(tmp_path: Path) -> None:
    """50 concurrent HTTP envoi on 20 credits: exactly 20 accepted, balance 0 = ledger sum."""
    store = await sqlite_store(tmp_path / "c.db")
    app = create_app(make_settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"), store)
    try:
        await app.gateway.create_account("alice", "a@x.fr", PASSWORD, 20)
        url = f"/client/api?action=envoi&login=alice&apipasse={PASSWORD}&origine=S&msg=x"
        async with asgi_client(app) as client:

            async def send(i: int) -> httpx.Response:
                return await client.get(url + f"&dest=336123456{i:02d}")

            answers = [r.text for r in await asyncio.gather(*(send(i) for i in range(50)))]
        ok = [a for a in answers if a.endswith("|Message envoyé")]
        refused = [a for a in answers if a == "02|Vous n'avez pas assez de crédit"]
        assert (len(ok), len(refused)) == (20, 30)
        account = await store.find_account("alice")
        assert account is not None
        assert await store.balance(account.id) == 0 == await store.ledger_sum(account.id)
        assert await store.count_messages(account.id) == 20
    finally:
        await store.close()
