"""The store contract: every backend behaves the same (memory twin and SQLite file)."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import exceptions as exc
from passerelle.core.states import RecipientState
from passerelle.core.values import AccountChanges, CreditChange, NewAccount, NewMessage
from passerelle.store.base import Store


def new_account(login: str = "alice", credits: int = 10) -> NewAccount:
    return NewAccount(
        login=login,
        email=f"{login}@example.com",
        api_password_hash="h",
        callback_secret="s",
        created_at=1000.0,
        credits=credits,
    )


def message(account_id: int, recipients: tuple[str, ...] = ("33612345678",)) -> NewMessage:
    return NewMessage(
        account_id=account_id,
        created_at=2000.0,
        sender="Shop",
        sender_type=5,
        text="hi",
        flash=False,
        callback=False,
        recipients=recipients,
        cost=len(recipients),
    )


async def test_create_and_find_account(store: Store) -> None:
    """A created account is found by login with its fields; its grant is in the ledger."""
    account = await store.create_account(new_account(credits=7))
    found = await store.find_account("alice")
    assert found == account
    assert (account.credits, account.usable, account.callback_method) == (7, True, "POST")
    assert await store.ledger_sum(account.id) == 7
    assert await store.find_account("nobody") is None


async def test_login_is_unique(store: Store) -> None:
    """Creating the same login twice raises AccountExists."""
    await store.create_account(new_account())
    with pytest.raises(exc.AccountExists):
        await store.create_account(new_account())


async def test_accept_charges_in_same_transaction(store: Store) -> None:
    """Accepting stores message, recipients and one debit; balance equals ledger sum."""
    account = await store.create_account(new_account(credits=10))
    msgid = await store.accept_message(message(account.id, ("33612345678", "33612345679")))
    assert 100_000_000 <= msgid <= 999_999_999
    states = await store.message_states(account.id, msgid)
    assert [(s.dest, s.state) for s in states] == [
        ("33612345678", RecipientState.QUEUED),
        ("33612345679", RecipientState.QUEUED),
    ]
    assert await store.balance(account.id) == 8
    assert await store.ledger_sum(account.id) == 8
    debit = (await store.ledger(account.id))[0]
    assert (debit.delta, debit.kind, debit.msgid) == (-2, "debit", msgid)


async def test_no_credit_stores_nothing(store: Store) -> None:
    """A message costing more than the balance raises NoCredit and changes nothing."""
    account = await store.create_account(new_account(credits=1))
    with pytest.raises(exc.NoCredit):
        await store.accept_message(message(account.id, ("33612345678", "33612345679")))
    assert await store.count_messages(account.id) == 0
    assert await store.balance(account.id) == 1
    assert len(await store.ledger(account.id)) == 1


async def test_message_states_scoped_to_account(store: Store) -> None:
    """Another account's msgid reads as unknown; `dest` filters one recipient."""
    alice = await store.create_account(new_account("alice"))
    bob = await store.create_account(new_account("bob"))
    msgid = await store.accept_message(message(alice.id, ("33612345678", "33612345679")))
    assert await store.message_states(bob.id, msgid) == []
    only = await store.message_states(alice.id, msgid, "33612345679")
    assert [s.dest for s in only] == ["33612345679"]


async def test_adjust_credits_never_below_zero(store: Store) -> None:
    """Removing more than the balance removes the balance; the ledger records what moved."""
    await store.create_account(new_account(credits=5))
    assert await store.adjust_credits(
        "alice", 3, kind="grant", actor="t", reason="r", at=1
    ) == CreditChange(3, 8)
    assert await store.adjust_credits(
        "alice", -20, kind="adjustment", actor="t", reason="r", at=2
    ) == CreditChange(-8, 0)
    account = await store.find_account("alice")
    assert account is not None
    assert [e.delta for e in await store.ledger(account.id)] == [-8, 3, 5]
    with pytest.raises(exc.AccountNotFound):
        await store.adjust_credits("nobody", 1, kind="grant", actor="t", reason="r", at=3)


async def test_concurrent_removals_never_go_below_zero(store: Store) -> None:
    """50 removals of 3 at once from 100: each sees the last one's balance, none below zero."""
    account = await store.create_account(new_account(credits=100))
    changes = await asyncio.gather(
        *(
            store.adjust_credits("alice", -3, kind="adjustment", actor="t", reason="r", at=i)
            for i in range(50)
        )
    )
    assert sorted(c.applied for c in changes) == [-3] * 33 + [-1] + [0] * 16
    moved = [c.balance for c in changes if c.applied]
    assert sorted(moved) == [0, *range(1, 100, 3)]
    assert await store.balance(account.id) == 0 == await store.ledger_sum(account.id)
    assert len(await store.ledger(account.id, 100)) == 1 + 34


async def test_concurrent_grants_and_removals_keep_the_ledger_whole(store: Store) -> None:
    """Grants, removals and accepts at once: the balance is their sum, and so is the ledger."""
    account = await store.create_account(new_account(credits=10))
    results = await asyncio.gather(
        *(
            store.adjust_credits(
                "alice", 5 if i % 2 else -7, kind="adjustment", actor="t", reason="r", at=i
            )
            for i in range(40)
        ),
        *(store.accept_message(message(account.id)) for _ in range(20)),
        return_exceptions=True,
    )
    applied = sum(r.applied for r in results if isinstance(r, CreditChange))
    accepted = sum(1 for r in results if isinstance(r, int))
    assert all(isinstance(r, CreditChange | int | exc.NoCredit) for r in results)
    balance = await store.balance(account.id)
    assert balance == 10 + applied - accepted >= 0
    assert await store.ledger_sum(account.id) == balance


async def test_update_account(store: Store) -> None:
    """Named fields change; unknown login raises AccountNotFound."""
    await store.create_account(new_account())
    updated = await store.update_account(
        "alice", AccountChanges(suspended=True, rate_limit=5.0), 3000.0
    )
    assert (updated.suspended, updated.rate_limit, updated.usable) == (True, 5.0, False)
    with pytest.raises(exc.AccountNotFound):
        await store.update_account("nobody", AccountChanges(suspended=True), 3000.0)


async def test_concurrent_accepts_never_overdraw(store: Store) -> None:
    """50 concurrent one-credit messages on 20 credits: exactly 20 accepted."""
    account = await store.create_account(new_account(credits=20))
    results = await asyncio.gather(
        *(store.accept_message(message(account.id)) for _ in range(50)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, exc.NoCredit)]
    assert (len(accepted), len(refused)) == (20, 30)
    assert len(set(accepted)) == 20
    assert await store.balance(account.id) == 0 == await store.ledger_sum(account.id)


async def test_recent_messages_newest_first(store: Store) -> None:
    """Recent messages list the account's messages with their recipients."""
    account = await store.create_account(new_account())
    first = await store.accept_message(message(account.id))
    recent = await store.recent_messages(account.id)
    assert [m.msgid for m in recent] == [first]
    assert recent[0].recipients[0].state is RecipientState.QUEUED
    assert await store.ping()


async def test_typed_update_sets_only_what_it_names(store: Store) -> None:
    """Unset fields stay; None is a value (no rate limit), not "leave as it is"."""
    await store.create_account(new_account())
    await store.update_account("alice", AccountChanges(rate_limit=5.0), 3000.0)
    assert AccountChanges().columns() == {}
    assert AccountChanges(rate_limit=None).columns() == {"rate_limit": None}
    updated = await store.update_account("alice", AccountChanges(rate_limit=None), 3001.0)
    assert (updated.rate_limit, updated.email, updated.updated_at) == (
        None,
        "alice@example.com",
        3001.0,
    )
