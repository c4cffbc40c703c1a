"""The receipt deadline in the store contract: `expire_overdue` selects the overdue
recipients and stores the change `core.transitions` gives them, on SQLite and the twin."""

from __future__ import annotations

from pathlib import Path

from passerelle.core.states import RecipientState as S
from passerelle.core.values import AccountChanges, NewAccount, NewMessage
from passerelle.store.base import Store
from passerelle.store.sqlite_expiry import OVERDUE
from tests.support import sqlite_store

DEADLINE = 1000.0
SUBMIT_AT = 200.0
OVERDUE_AT = SUBMIT_AT + DEADLINE + 1.0


async def submitted(
    store: Store, dests: tuple[str, ...] = ("33612345678",), *, callback: bool = True
) -> tuple[int, int]:
    """An account (10 credits, a callback URL) whose message to `dests` was submitted at
    SUBMIT_AT + i (smsc ids "id0", "id1", ...); (account id, msgid)."""
    account = await store.create_account(
        NewAccount("alice", "a@x.fr", "h", "s", created_at=100.0, credits=10)
    )
    await store.update_account("alice", AccountChanges(callback_url="https://cb.example/x"), 100.0)
    msgid = await store.accept_message(
        NewMessage(account.id, 100.0, "Shop", 5, "hi", False, callback, dests, len(dests))
    )
    due = sorted(await store.claim_due(150.0, 30.0, 100), key=lambda d: d.dest)
    for i, recipient in enumerate(due):
        await store.mark_submitted(recipient.id, "op1", f"id{i}", now=SUBMIT_AT + i)
    return account.id, msgid


async def test_overdue_recipient_expires_once_with_its_event(store: Store) -> None:
    """An overdue recipient gets the deadline's change stored (EXPIRED, its stat, final
    time and event); a second pass no longer selects it."""
    account_id, msgid = await submitted(store)
    assert await store.expire_overdue(OVERDUE_AT, DEADLINE, 10) == 1
    [state] = await store.message_states(account_id, msgid)
    assert (state.state, state.stat, state.updated_at) == (S.EXPIRED, "EXPIRED", OVERDUE_AT)
    assert await store.balance(account_id) == 9 == await store.ledger_sum(account_id)
    [job] = await store.claim_callbacks(OVERDUE_AT, 30.0, 10)
    assert (job.msgid, job.statut, job.stat, job.err) == (msgid, 2, "EXPIRED", "no-receipt")
    assert await store.expire_overdue(OVERDUE_AT + 10, DEADLINE, 10) == 0
    [state] = await store.message_states(account_id, msgid)
    assert (state.state, state.stat) == (S.EXPIRED, "EXPIRED")
    assert len(await store.list_callbacks(None, False, 10)) == 1


async def test_no_event_without_callback(store: Store) -> None:
    """The expiry pass gives the transition its message's callback=0: no event stored."""
    account_id, msgid = await submitted(store, callback=False)
    assert await store.expire_overdue(OVERDUE_AT, DEADLINE, 10) == 1
    assert (await store.message_states(account_id, msgid))[0].state is S.EXPIRED
    assert await store.list_callbacks(None, False, 10) == []


async def test_recipients_not_overdue_are_untouched(store: Store) -> None:
    """Not yet past the deadline (the exact deadline included), still queued however old,
    or already final: nothing changes."""
    account_id, msgid = await submitted(store, ("33612345678", "33612345679"))
    bob = await store.create_account(NewAccount("bob", "b@x.fr", "h", "s", 1.0, credits=10))
    old = await store.accept_message(
        NewMessage(bob.id, 1.0, "Shop", 5, "hi", False, True, ("33600000009",), 1)
    )
    await store.record_receipt("op1", "id1", S.DELIVERED, "DELIVRD", "000", 250.0)
    assert await store.expire_overdue(SUBMIT_AT + DEADLINE - 100, DEADLINE, 10) == 0
    assert await store.expire_overdue(SUBMIT_AT + DEADLINE, DEADLINE, 10) == 0
    assert [s.state for s in await store.message_states(account_id, msgid)] == [
        S.SUBMITTED,
        S.DELIVERED,
    ]
    assert await store.expire_overdue(OVERDUE_AT + 1e6, DEADLINE, 10) == 1
    assert [s.state for s in await store.message_states(account_id, msgid)] == [
        S.EXPIRED,
        S.DELIVERED,
    ]
    assert (await store.message_states(bob.id, old))[0].state is S.QUEUED


async def test_expiry_is_batched_oldest_first(store: Store) -> None:
    """At most `limit` recipients per call, the longest waiting first."""
    dests = tuple(f"3361234567{i}" for i in range(5))
    account_id, msgid = await submitted(store, dests)
    now = SUBMIT_AT + 4 + DEADLINE + 1.0
    assert await store.expire_overdue(now, DEADLINE, 2) == 2
    states = {s.dest: s.state for s in await store.message_states(account_id, msgid)}
    assert [states[d] for d in dests] == [S.EXPIRED] * 2 + [S.SUBMITTED] * 3
    assert [await store.expire_overdue(now, DEADLINE, 2) for _ in range(3)] == [2, 1, 0]
    assert len(await store.list_callbacks(None, False, 10)) == 5


async def test_sqlite_expiry_reads_the_partial_index(tmp_path: Path) -> None:
    """The overdue query is answered from the index of submitted recipients, not by
    scanning every recipient (the migrated file has that index)."""
    store = await sqlite_store(tmp_path / "plan.db")
    try:
        conn = store._read()
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + OVERDUE, (0, 1)))
        assert "USING INDEX recipients_awaiting_receipt" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # the index gives the order too
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'recipients_awaiting_receipt'"
        ).fetchone()
        assert sql.replace('"', "").endswith("(submitted_at) WHERE state = 1"), sql
    finally:
        await store.close()
