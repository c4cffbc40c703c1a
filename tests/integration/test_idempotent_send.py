"""`service_idempotency.send_once` on SQLite files and PostgreSQL: concurrent retries
with one Idempotency-Key store and charge one message, in one process or two sharing a
database; another body under the key is refused; a refusal is remembered; a crash
between the message's commit and the recording of its answer is recovered without
sending again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from passerelle import exceptions as exc
from passerelle.core.idempotency import Claim, message_ref, request_digest
from passerelle.core.message import SendRequest
from passerelle.core.values import Account, NewAccount, NewMessage
from passerelle.service import Gateway
from passerelle.service_idempotency import Outcome, send_once
from passerelle.store.base import Store
from passerelle.store.postgres import PgStore
from tests.support import make_settings, sqlite_store

REQUEST = SendRequest(dest="33612345601", sender="Acme", text="Bonjour")
HASH = request_digest(b'{"to": "33612345601", "text": "Bonjour"}')
OTHER = request_digest(b'{"to": "33612345602", "text": "Bonjour"}')


class Clock:
    """A clock the test moves (the database's clock for the gateway)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite file or the test PostgreSQL database, migrated and opened."""
    if request.param == "sqlite":
        s: Store = await sqlite_store(tmp_path / "idem.db")
    else:
        s = PgStore(request.getfixturevalue("postgres_url"))
        await s.open()
    yield s
    await s.close()


async def gateway_with(store: Store, credits: int = 10, clock: Clock | None = None) -> Gateway:
    gateway = Gateway(store, make_settings(), clock=clock)
    new = NewAccount("acme", "ops@acme.fr", "h", "s", gateway.now(), credits=credits)
    await store.create_account(new)
    return gateway


async def acme(store: Store) -> Account:
    account = await store.find_account("acme")
    assert account is not None
    return account


async def assert_charged_once(store: Store, account: Account, cost: int = 1) -> None:
    """One message stored, one debit, and the balance equal to the ledger's sum."""
    assert await store.count_messages(account.id) == 1
    debits = [e for e in await store.ledger(account.id) if e.kind == "debit"]
    assert [e.delta for e in debits] == [-cost]
    assert await store.balance(account.id) == await store.ledger_sum(account.id)


async def test_twenty_concurrent_retries_send_once(store: Store) -> None:
    """20 concurrent calls with one key: one message, one debit, one msgid for all, 19
    of them replays."""
    gateway = await gateway_with(store)
    account = await acme(store)
    try:
        outcomes = await asyncio.gather(
            *(send_once(gateway, account, REQUEST, "key-1", HASH) for _ in range(20))
        )
    finally:
        gateway.close()
    msgids = {o.msgid for o in outcomes}
    assert len(msgids) == 1 and None not in msgids
    assert sum(o.replayed for o in outcomes) == 19
    assert all(o.error is None for o in outcomes)
    await assert_charged_once(store, account)


async def test_two_processes_sharing_postgresql_send_once(postgres_url: str) -> None:
    """Two gateways, each on a store (pool, batcher) of its own on one PostgreSQL
    database, 10 concurrent calls each with one key: one message, one debit."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await first.open()
    await second.open()
    try:
        one = await gateway_with(first)
        two = Gateway(second, make_settings())
        account = await acme(first)
        calls = [send_once(g, account, REQUEST, "shared", HASH) for g in (one, two) * 10]
        outcomes = await asyncio.gather(*calls)
        one.close()
        two.close()
        assert len({o.msgid for o in outcomes}) == 1
        assert sum(o.replayed for o in outcomes) == 19
        await assert_charged_once(first, account)
    finally:
        await first.close()
        await second.close()


async def test_another_body_under_the_key_is_refused(store: Store) -> None:
    """The same key with another request hash raises IdempotencyMismatch; nothing sent."""
    gateway = await gateway_with(store)
    account = await acme(store)
    first = await send_once(gateway, account, REQUEST, "key-1", HASH)
    with pytest.raises(exc.IdempotencyMismatch):
        await send_once(gateway, account, REQUEST, "key-1", OTHER)
    again = await send_once(gateway, account, REQUEST, "key-1", HASH)
    gateway.close()
    assert again == Outcome(msgid=first.msgid, replayed=True)
    await assert_charged_once(store, account)


async def test_a_refusal_is_remembered(store: Store) -> None:
    """No credit: the refusal (02) is the answer, and stays the answer for the key even
    once credits came; nothing is stored or charged."""
    gateway = await gateway_with(store, credits=0)
    account = await acme(store)
    first = await send_once(gateway, account, REQUEST, "key-1", HASH)
    assert isinstance(first.error, exc.NoCredit) and not first.replayed
    await store.adjust_credits("acme", 5, kind="grant", actor="t", reason="r", at=gateway.now())
    again = await send_once(gateway, account, REQUEST, "key-1", HASH)
    gateway.close()
    assert isinstance(again.error, exc.NoCredit) and again.replayed and again.msgid is None
    assert again.error.answer() == first.error.answer()
    assert await store.count_messages(account.id) == 0
    assert await store.balance(account.id) == await store.ledger_sum(account.id) == 5


async def test_a_crash_after_the_commit_is_recovered_without_sending_again(
    store: Store,
) -> None:
    """The owner stored the message with its reservation and died before recording the
    answer: a retry gets that msgid (RECOVERED, lease or not), nothing more charged."""
    clock = Clock(store.clock())
    gateway = await gateway_with(store, clock=clock)
    account = await acme(store)
    found = await store.reserve_idempotency(account.id, "key-1", HASH, clock(), 30.0)
    assert found.claim is Claim.OWNER and found.generation is not None
    dest = ("33612345601",)
    ref = message_ref("key-1", found.generation)
    sent = NewMessage(account.id, clock(), "Acme", 5, "Bonjour", False, False, dest, 1, ref)
    msgid = await store.accept_message(sent)  # as the owner's send did, then it died
    outcome = await send_once(gateway, account, REQUEST, "key-1", HASH, wait=0.1)
    gateway.close()
    assert outcome == Outcome(msgid=msgid, replayed=True)
    await assert_charged_once(store, account)


async def test_a_crash_before_the_commit_is_sent_by_the_next_retry(store: Store) -> None:
    """The owner died before storing anything: once the lease ran out, a retry takes the
    key over and sends, once."""
    clock = Clock(store.clock())
    gateway = await gateway_with(store, clock=clock)
    account = await acme(store)
    await store.reserve_idempotency(account.id, "key-1", HASH, clock(), 30.0)
    clock.now += 31.0
    outcome = await send_once(gateway, account, REQUEST, "key-1", HASH)
    again = await send_once(gateway, account, REQUEST, "key-1", HASH)
    gateway.close()
    assert outcome.msgid is not None and not outcome.replayed
    assert again == Outcome(msgid=outcome.msgid, replayed=True)
    await assert_charged_once(store, account)


async def test_a_failed_send_releases_the_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is no refusal (the store's) is raised and the key forgotten: the
    next retry sends."""
    gateway = await gateway_with(store)
    account = await acme(store)

    async def broken(*args: object, **kwargs: object) -> int:
        raise exc.StoreError("the database refused the write")

    with monkeypatch.context() as patch:
        patch.setattr(gateway, "send", broken)
        with pytest.raises(exc.StoreError):
            await send_once(gateway, account, REQUEST, "key-1", HASH)
    outcome = await send_once(gateway, account, REQUEST, "key-1", HASH)
    gateway.close()
    assert outcome.msgid is not None and not outcome.replayed
    await assert_charged_once(store, account)


async def test_without_a_key_every_call_sends(store: Store) -> None:
    """No key: a plain send each time, never a replay."""
    gateway = await gateway_with(store)
    account = await acme(store)
    first = await send_once(gateway, account, REQUEST, None, HASH)
    second = await send_once(gateway, account, REQUEST, None, HASH)
    gateway.close()
    assert first.msgid != second.msgid and not (first.replayed or second.replayed)
    assert await store.count_messages(account.id) == 2
