"""The retention half of the store contract (memory twin and SQLite): what a purge
deletes, what it keeps, and that it goes batch by batch, oldest first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from passerelle.core.states import RecipientState as S
from passerelle.core.values import (
    CallbackAttempt,
    CallbackJob,
    CallbackOutcome,
    CallbackResult,
    NewAccount,
    NewMessage,
)
from passerelle.retention import purge
from passerelle.store import sqlite_retention
from passerelle.store.base import Store
from tests.support import sqlite_store


async def account(store: Store) -> int:
    """An account with credits and a callback URL; its id."""
    created = await store.create_account(
        NewAccount("alice", "a@x.fr", "h", "sekret", 1.0, credits=100, callback_url="https://c/d")
    )
    return created.id


async def message(store: Store, account_id: int, at: float, dest: str) -> int:
    """A callback=1 message to `dest` created at `at`, submitted as op1/<dest>; its msgid."""
    msgid = await store.accept_message(
        NewMessage(account_id, at, "Shop", 5, "hi", False, True, (dest,), 1)
    )
    [due] = [d for d in await store.claim_due(at, 30.0, 100) if d.msgid == msgid]
    await store.mark_submitted(due.id, "op1", dest, at)
    return msgid


async def delivered_with_callback(store: Store, account_id: int) -> CallbackJob:
    """A message of t=100 delivered at 101, its callback sent and answered at 102; the job."""
    await message(store, account_id, 100.0, "33600000001")
    await store.record_receipt("op1", "33600000001", S.DELIVERED, "DELIVRD", None, 101.0)
    [job] = await store.claim_callbacks(102.0, 30.0, 10)
    ok = CallbackAttempt(102.0, 200, 1.0, None)
    await store.finish_callbacks(
        [CallbackResult(job.id, job.claim, ok, CallbackOutcome.DELIVERED, None)]
    )
    return job


async def test_purge_deletes_old_messages_and_what_hangs_on_them(store: Store) -> None:
    """Old messages go with recipients, events, attempts and stray receipts; the new stay;
    the ledger is kept whole."""
    alice = await account(store)
    old = await message(store, alice, 100.0, "33600000001")
    new = await message(store, alice, 300.0, "33600000002")
    for dest, at in (("33600000001", 101.0), ("33600000002", 301.0)):
        await store.record_receipt("op1", dest, S.DELIVERED, "DELIVRD", None, at)
    jobs = await store.claim_callbacks(400.0, 30.0, 10)
    attempt = CallbackAttempt(400.0, 200, 1.0, None)
    await store.finish_callbacks(
        [CallbackResult(j.id, j.claim, attempt, CallbackOutcome.DELIVERED, None) for j in jobs]
    )
    await store.record_receipt("op1", "stray-old", S.DELIVERED, "DELIVRD", None, 150.0)
    await store.record_receipt("op1", "stray-new", S.DELIVERED, "DELIVRD", None, 250.0)
    ledger_before = await store.ledger(alice, 100)

    assert await store.purge_before(200.0, 10) == 1

    assert await store.message_states(alice, old) == []
    assert [r.state for r in await store.message_states(alice, new)] == [S.DELIVERED]
    events = await store.list_callbacks(None, failed_only=False, limit=10)
    assert [e.msgid for e in events] == [new]
    old_event = next(j.id for j in jobs if j.msgid == old)
    assert await store.callback_attempts(old_event) == []
    assert await store.ledger(alice, 100) == ledger_before
    assert await store.balance(alice) == await store.ledger_sum(alice)
    # a receipt kept for an unknown id is purged with the old; a newer one still applies
    late = await message(store, alice, 500.0, "stray-old")
    later = await message(store, alice, 500.0, "stray-new")
    assert [r.state for r in await store.message_states(alice, late)] == [S.SUBMITTED]
    assert [r.state for r in await store.message_states(alice, later)] == [S.DELIVERED]


async def test_purge_goes_oldest_first_in_batches(store: Store) -> None:
    """`limit` bounds one call; an account's oldest go first; `purge` repeats until none is left."""
    alice = await account(store)
    msgids = [
        await message(store, alice, at, f"3360000000{i}")
        for i, at in enumerate([30.0, 10.0, 20.0, 40.0, 500.0])
    ]
    assert await store.purge_before(100.0, 2) == 2
    left = [m for m in msgids if await store.message_states(alice, m)]
    assert left == [msgids[0], msgids[3], msgids[4]]  # created at 10 and 20 went first
    assert await purge(store, 100.0, batch=1, pause=0) == 2
    assert [m for m in msgids if await store.message_states(alice, m)] == [msgids[4]]
    assert await store.purge_before(100.0, 2) == 0


async def test_nothing_new_reuses_a_purged_row(store: Store) -> None:
    """After a purge, a new callback event gets a fresh id (receivers deduplicate on it)."""
    alice = await account(store)
    first = await delivered_with_callback(store, alice)
    assert await store.purge_before(200.0, 10) == 1
    await message(store, alice, 300.0, "33600000009")
    await store.record_receipt("op1", "33600000009", S.DELIVERED, "DELIVRD", None, 301.0)
    [second] = await store.claim_callbacks(302.0, 30.0, 10)
    assert second.id > first.id


async def test_unfinished_messages_are_kept_until_done(store: Store) -> None:
    """A recipient still queued (claimed or not), or a callback still pending, keeps its
    message past the cutoff; once done, it goes."""
    alice = await account(store)
    queued = await store.accept_message(
        NewMessage(alice, 100.0, "Shop", 5, "hi", False, True, ("33600000001",), 1)
    )
    [claimed] = await store.claim_due(100.0, 30.0, 10)
    waiting = await message(store, alice, 100.0, "33600000002")
    await store.record_receipt("op1", "33600000002", S.DELIVERED, "DELIVRD", None, 101.0)
    assert await store.purge_before(200.0, 10) == 0
    assert [r.state for r in await store.message_states(alice, queued)] == [S.QUEUED]
    await store.mark_submitted(claimed.id, "op1", "late", 201.0)  # the dispatcher's answer
    [event] = await store.claim_callbacks(202.0, 30.0, 10)
    assert event.msgid == waiting
    assert await store.purge_before(300.0, 10) == 1  # submitted: done, the event still pending
    assert await store.message_states(alice, queued) == []
    ok = CallbackAttempt(203.0, 200, 1.0, None)
    await store.finish_callbacks(
        [CallbackResult(event.id, event.claim, ok, CallbackOutcome.DELIVERED, None)]
    )
    assert await store.purge_before(300.0, 10) == 1
    assert await store.message_states(alice, waiting) == []


async def test_purge_covers_every_account_and_only_the_old(store: Store) -> None:
    """Each account's old messages go, within one call's limit; younger ones stay."""
    ids = []
    for login in ("alice", "bob", "carol"):
        created = await store.create_account(
            NewAccount(login, f"{login}@x.fr", "h", "s", 1.0, credits=10)
        )
        ids.append(created.id)
    old = [await message(store, a, 100.0, f"3360000000{i}") for i, a in enumerate(ids)]
    young = [await message(store, a, 300.0, f"3361000000{i}") for i, a in enumerate(ids)]
    assert await store.purge_before(200.0, 2) == 2
    assert await store.purge_before(200.0, 2) == 1
    assert await store.purge_before(200.0, 2) == 0
    for a, o, y in zip(ids, old, young, strict=True):
        assert await store.message_states(a, o) == []
        assert len(await store.message_states(a, y)) == 1


async def test_concurrent_purges_delete_each_message_once(store: Store) -> None:
    """Purges running at once delete every old finished message once, and nothing else."""
    alice = await account(store)
    old = [await message(store, alice, 100.0 + i, f"336000000{i:02d}") for i in range(30)]
    young = await message(store, alice, 300.0, "33610000000")
    counts = await asyncio.gather(*(purge(store, 200.0, batch=4, pause=0) for _ in range(5)))
    assert sum(counts) == 30
    assert [m for m in old if await store.message_states(alice, m)] == []
    assert [r.state for r in await store.message_states(alice, young)] == [S.SUBMITTED]
    assert await store.balance(alice) == await store.ledger_sum(alice) == 69


async def test_sqlite_bounds_the_recipients_of_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite deletes about RECIPIENT_BUDGET recipients per call (at least one message), so
    bulk messages never hold the writer long; `purge` still finishes the job."""
    monkeypatch.setattr(sqlite_retention, "RECIPIENT_BUDGET", 5)
    store = await sqlite_store(tmp_path / "budget.db")
    try:
        alice = await account(store)
        for size in (3, 3, 7):
            dests = tuple(f"3360000{size}{i:03d}" for i in range(size))
            await store.accept_message(
                NewMessage(alice, 100.0, "Shop", 5, "hi", False, False, dests, size)
            )
        for due in await store.claim_due(100.0, 30.0, 100):
            await store.mark_submitted(due.id, "op1", f"id{due.id}", 100.0)
        assert await store.purge_before(200.0, 10) == 1  # 3 + 3 > 5
        assert await store.purge_before(200.0, 10) == 1
        assert await store.purge_before(200.0, 10) == 1  # 7 alone: at least one message
        assert await store.purge_before(200.0, 10) == 0
        for size in (3, 3, 7):
            dests = tuple(f"3361000{size}{i:03d}" for i in range(size))
            await store.accept_message(
                NewMessage(alice, 100.0, "Shop", 5, "hi", False, False, dests, size)
            )
        for due in await store.claim_due(100.0, 30.0, 100):
            await store.mark_failed(due.id, "no route", 100.0, refund=True)
        assert await purge(store, 200.0, batch=10, pause=0) == 3
    finally:
        await store.close()


async def test_sqlite_finds_candidates_by_msgid_not_by_state(tmp_path: Path) -> None:
    """The purge's "done" checks look recipients and events up by msgid: a plan scanning
    every queued recipient per candidate stalled accepts for seconds with a backlog."""
    store = await sqlite_store(tmp_path / "plan.db")
    try:
        plan = " ".join(
            str(row[3])
            for row in store._read().execute(
                "EXPLAIN QUERY PLAN " + sqlite_retention.CANDIDATES, (1, 1.0, 0, 0, 10)
            )
        )
    finally:
        await store.close()
    assert "SEARCH m USING INDEX messages_account_created" in plan
    assert "SEARCH r USING INDEX sqlite_autoindex_recipients_1 (msgid=?)" in plan
    assert "SEARCH e USING INDEX callback_events_msgid (msgid=?)" in plan
    assert "recipients_queued" not in plan and "callback_events_due" not in plan


async def test_late_writes_for_purged_rows_do_nothing(store: Store) -> None:
    """A late outcome for a recipient or an event that no longer exists changes nothing
    and raises nothing (a worker may answer after a purge or a manual delete)."""
    alice = await account(store)
    event = await delivered_with_callback(store, alice)
    ok = CallbackAttempt(102.0, 200, 1.0, None)
    assert await store.purge_before(200.0, 10) == 1
    await store.mark_submitted(1, "op1", "x", 300.0)
    await store.mark_retry(1, 400.0, "late")
    await store.mark_failed(1, "late", 300.0, refund=True)
    await store.release([1])
    await store.finish_callbacks(
        [CallbackResult(event.id, event.claim, ok, CallbackOutcome.DELIVERED, None)]
    )
    assert await store.callback_attempts(event.id) == []
    assert await store.list_callbacks(None, failed_only=False, limit=10) == []
    assert await store.balance(alice) == await store.ledger_sum(alice) == 99
