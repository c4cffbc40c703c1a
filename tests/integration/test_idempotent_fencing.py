"""Idempotency-Keys fenced by their reservation, on every backend: a key used again
after its row was purged is a new reservation (never the old message); an owner taken
over while it was slow cannot store a second message (one message, one debit, the same
msgid for both); a failure to record the answer after a send still answers its msgid
and a retry replays it."""

from __future__ import annotations

import asyncio
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
UNKNOWN_GROUP = SendRequest(dest="", sender="Acme", text="day 2", group="nope")
HASH = request_digest(b"day 0")
OTHER = request_digest(b"day 2")
DAY = 86_400.0


class Clock:
    """A clock the test moves (the database's clock for the gateway)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def setup(store: Store, credits: int = 10) -> tuple[Gateway, Clock, Account]:
    clock = Clock(store.clock())
    gateway = Gateway(store, make_settings(), clock=clock)
    new = NewAccount("acme", "ops@acme.fr", "h", "s", clock(), credits=credits)
    await store.create_account(new)
    account = await store.find_account("acme")
    assert account is not None
    return gateway, clock, account


def message(account: Account, at: float, ref: str) -> NewMessage:
    dest = ("33612345601",)
    return NewMessage(account.id, at, "Acme", 5, "Bonjour", False, False, dest, 1, ref)


async def debits(store: Store, account: Account) -> list[int]:
    return [e.delta for e in await store.ledger(account.id) if e.kind == "debit"]


async def test_a_key_reused_after_its_purge_never_answers_the_old_msgid(store: Store) -> None:
    """Used, purged past the horizon, used again for a refused request: the retry is
    refused again (the old message is not the new reservation's), never the old msgid."""
    gateway, clock, account = await setup(store)
    first = await send_once(gateway, account, REQUEST, "K", HASH)
    assert first.msgid is not None
    clock.now += 2 * DAY
    assert await store.purge_idempotency(clock.now - DAY) == 1
    refused = await send_once(gateway, account, UNKNOWN_GROUP, "K", OTHER)
    again = await send_once(gateway, account, UNKNOWN_GROUP, "K", OTHER)
    gateway.close()
    for outcome in (refused, again):
        assert outcome.msgid is None and isinstance(outcome.error, exc.InvalidParameter)
    assert await debits(store, account) == [-1]


async def test_a_key_reused_after_its_purge_with_a_crash_before_commit_sends(
    store: Store,
) -> None:
    """Used, purged, reserved again by an owner that died before its commit: once the
    lease ran out, a retry sends a new message (not RECOVERED with the old one)."""
    gateway, clock, account = await setup(store)
    first = await send_once(gateway, account, REQUEST, "K", HASH)
    clock.now += 2 * DAY
    await store.purge_idempotency(clock.now - DAY)
    found = await store.reserve_idempotency(account.id, "K", OTHER, clock(), 30.0)
    assert found.claim is Claim.OWNER  # then it died
    clock.now += 31.0
    retry = await send_once(gateway, account, REQUEST, "K", OTHER)
    gateway.close()
    assert retry.msgid is not None and retry.msgid != first.msgid and not retry.replayed
    assert await debits(store, account) == [-1, -1]


async def test_a_second_owner_of_one_reservation_stores_no_second_message(
    store: Store,
) -> None:
    """The owner stalled past its lease, a second caller took over and stored the
    message: the first owner's accept is IdempotencyDuplicate with that msgid, and
    nothing more is stored or charged."""
    gateway, clock, account = await setup(store)
    slow = await store.reserve_idempotency(account.id, "K", HASH, clock(), 30.0)
    clock.now += 31.0
    fast = await store.reserve_idempotency(account.id, "K", HASH, clock(), 30.0)
    assert slow.claim is fast.claim is Claim.OWNER
    assert slow.generation == fast.generation and slow.generation is not None
    ref = message_ref("K", slow.generation)
    msgid = await store.accept_message(message(account, clock(), ref))
    with pytest.raises(exc.IdempotencyDuplicate) as refused:
        await store.accept_message(message(account, clock(), ref))
    gateway.close()
    assert refused.value.msgid == msgid
    assert await store.count_messages(account.id) == 1
    assert await debits(store, account) == [-1]
    assert await store.balance(account.id) == await store.ledger_sum(account.id) == 9


async def test_a_slow_owner_taken_over_answers_the_same_msgid(store: Store) -> None:
    """send_once with an owner whose lease runs out while it sends, and a second call
    that takes over and commits first: both answer one msgid, one message, one debit."""
    gateway, clock, account = await setup(store)
    real = gateway.send
    calls = 0

    async def slow(account: Account, request: SendRequest, idem_key: str | None = None) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            clock.now += 31.0  # its lease runs out before it commits
            await asyncio.sleep(0.3)
        return await real(account, request, idem_key=idem_key)

    gateway.send = slow  # type: ignore[method-assign]
    first = asyncio.create_task(send_once(gateway, account, REQUEST, "K", HASH))
    await asyncio.sleep(0.05)
    second = await send_once(gateway, account, REQUEST, "K", HASH)
    outcome = await first
    gateway.close()
    assert calls == 2
    assert outcome == Outcome(msgid=second.msgid, replayed=True)
    assert second.msgid is not None and not second.replayed
    assert await store.count_messages(account.id) == 1
    assert await debits(store, account) == [-1]


async def test_two_postgresql_stores_fence_one_reservation(postgres_url: str) -> None:
    """Two stores (pools, processes) on one database, each an owner of the same
    reservation after a take-over, accept at once: one message, one debit; the other
    is IdempotencyDuplicate with its msgid."""
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    await first.open()
    await second.open()
    try:
        gateway, clock, account = await setup(first)
        slow = await first.reserve_idempotency(account.id, "K", HASH, clock(), 30.0)
        fast = await second.reserve_idempotency(account.id, "K", HASH, clock() + 31, 30.0)
        assert fast.claim is Claim.OWNER and slow.generation is not None
        ref = message_ref("K", slow.generation)
        found = await asyncio.gather(
            *(s.accept_message(message(account, clock(), ref)) for s in (first, second)),
            return_exceptions=True,
        )
        gateway.close()
        stored = [f for f in found if isinstance(f, int)]
        refused = [f for f in found if isinstance(f, exc.IdempotencyDuplicate)]
        assert len(stored) == len(refused) == 1 and refused[0].msgid == stored[0]
        assert await first.count_messages(account.id) == 1
        assert await debits(first, account) == [-1]
    finally:
        await first.close()
        await second.close()


async def test_a_failed_finish_still_answers_and_a_retry_replays(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the answer fails (StoreError) after the send: the send still answers its
    msgid, and an immediate retry replays it (no wait for the lease, no second send)."""
    gateway, _clock, account = await setup(store)

    async def broken(*args: object, **kwargs: object) -> None:
        raise exc.StoreError("the database refused the write")

    with monkeypatch.context() as patch:
        patch.setattr(store, "finish_idempotency", broken)
        outcome = await send_once(gateway, account, REQUEST, "K", HASH)
    retry = await send_once(gateway, account, REQUEST, "K", HASH, wait=0.1)
    gateway.close()
    assert outcome.msgid is not None and not outcome.replayed
    assert retry == Outcome(msgid=outcome.msgid, replayed=True)
    assert await debits(store, account) == [-1]


async def test_a_waiting_call_reads_the_row_off_the_writer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that finds the key in progress polls with `peek_idempotency` (off the
    writer), and reserves again only once the row says so: here, the owner's message is
    stored, so it is RECOVERED with that msgid."""
    gateway, clock, account = await setup(store)
    found = await store.reserve_idempotency(account.id, "K", HASH, clock(), 30.0)
    assert found.generation is not None
    reservations = 0
    real = store.reserve_idempotency

    async def counted(*args: float | int | str) -> object:
        nonlocal reservations
        reservations += 1
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "reserve_idempotency", counted)
    waiting = asyncio.create_task(send_once(gateway, account, REQUEST, "K", HASH, wait=5))
    await asyncio.sleep(0.3)
    assert reservations == 1 and not waiting.done()
    msgid = await store.accept_message(
        message(account, clock(), message_ref("K", found.generation))
    )
    outcome = await waiting
    gateway.close()
    assert outcome == Outcome(msgid=msgid, replayed=True)
    assert reservations == 2


async def test_the_unique_index_is_the_last_guard_on_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the check before the insert blinded, a second message of one reservation
    still fails on the unique index: IdempotencyDuplicate with the stored msgid, its
    transaction rolled back (no second debit)."""
    from passerelle.store import postgres_idempotency

    store = PgStore(postgres_url)
    await store.open()
    try:
        gateway, clock, account = await setup(store)
        owner = await store.reserve_idempotency(account.id, "K", "h", clock(), 30.0)
        assert owner.generation is not None
        ref = message_ref("K", owner.generation)
        blind = "SELECT 1 WHERE $1::int IS NULL AND $2::text IS NULL"
        monkeypatch.setattr(postgres_idempotency, "_STORED", blind)
        msgid = await store.accept_message(message(account, clock(), ref))
        with pytest.raises(exc.IdempotencyDuplicate) as refused:
            await store.accept_message(message(account, clock(), ref))
        gateway.close()
        assert refused.value.msgid == msgid
        assert await store.count_messages(account.id) == 1
        assert await debits(store, account) == [-1]
    finally:
        await store.close()


async def test_two_sqlite_stores_fence_one_reservation(tmp_path: Path) -> None:
    """Two stores (writers, as two processes) on one SQLite file, each an owner of the
    same reservation, accept at once: one message, one debit; the other is
    IdempotencyDuplicate with its msgid (the check runs under the write lock)."""
    first = await sqlite_store(tmp_path / "fence.db")
    second = await sqlite_store(tmp_path / "fence.db")
    try:
        gateway, clock, account = await setup(first)
        found = await first.reserve_idempotency(account.id, "K", HASH, clock(), 30.0)
        assert found.generation is not None
        ref = message_ref("K", found.generation)
        outcomes = await asyncio.gather(
            *(s.accept_message(message(account, clock(), ref)) for s in (first, second)),
            return_exceptions=True,
        )
        gateway.close()
        stored = [f for f in outcomes if isinstance(f, int)]
        refused = [f for f in outcomes if isinstance(f, exc.IdempotencyDuplicate)]
        assert len(stored) == len(refused) == 1 and refused[0].msgid == stored[0]
        assert await first.count_messages(account.id) == 1
        assert await debits(first, account) == [-1]
    finally:
        await first.close()
        await second.close()
