"""Idempotency-Keys in the store, on every backend: a key is reserved atomically (one
owner), refused for another request, replayed once done, waited for while its lease
holds, recovered from the message that carries its reservation or, once the lease ran
out, taken over; released, purged, and scoped by account. The message carries the
reservation (key and generation): a second message of one reservation is refused, and a
key used again after a purge is a new reservation."""

from __future__ import annotations

import asyncio

from passerelle import exceptions as exc
from passerelle.core.idempotency import Claim, Reservation, message_ref
from passerelle.core.values import NewAccount, NewMessage
from passerelle.store.base import Store

T0 = 1_000_000.0
LEASE = 30.0
H1, H2 = "a" * 64, "b" * 64
OWNER = Reservation(Claim.OWNER)
BUSY = Reservation(Claim.IN_PROGRESS)
MISMATCH = Reservation(Claim.MISMATCH)


async def account(store: Store, login: str = "acme") -> int:
    new = NewAccount(login, f"{login}@x.fr", "h", "s", T0, credits=100)
    return (await store.create_account(new)).id


def message(account_id: int, key: str | None, at: float = T0) -> NewMessage:
    return NewMessage(account_id, at, "Acme", 5, "t", False, False, ("33612345601",), 1, key)


async def test_a_new_key_makes_its_caller_the_owner(store: Store) -> None:
    """The first reservation of a key is OWNER; another within the lease is IN_PROGRESS."""
    a = await account(store)
    assert await store.reserve_idempotency(a, "k1", H1, T0, LEASE) == OWNER
    assert await store.reserve_idempotency(a, "k1", H1, T0 + 29, LEASE) == BUSY


async def test_another_request_under_the_key_is_a_mismatch(store: Store) -> None:
    """The same key with another request hash is MISMATCH, pending or done."""
    a = await account(store)
    await store.reserve_idempotency(a, "k1", H1, T0, LEASE)
    assert await store.reserve_idempotency(a, "k1", H2, T0 + 1, LEASE) == MISMATCH
    await store.finish_idempotency(a, "k1", 123456789, None)
    assert await store.reserve_idempotency(a, "k1", H2, T0 + 100, LEASE) == MISMATCH


async def test_a_finished_key_replays_its_msgid_or_its_refusal(store: Store) -> None:
    """Once finished, a key is DONE with its msgid, or with the refusal's legacy code."""
    a = await account(store)
    await store.reserve_idempotency(a, "sent", H1, T0, LEASE)
    await store.finish_idempotency(a, "sent", 123456789, None)
    await store.reserve_idempotency(a, "refused", H1, T0, LEASE)
    await store.finish_idempotency(a, "refused", None, "02")
    for at in (T0 + 1, T0 + 1000):  # a done key has no lease
        found = await store.reserve_idempotency(a, "sent", H1, at, LEASE)
        assert found == Reservation(Claim.DONE, 123456789, None)
        found = await store.reserve_idempotency(a, "refused", H1, at, LEASE)
        assert found == Reservation(Claim.DONE, None, "02")


async def test_a_lapsed_lease_without_message_is_taken_over(store: Store) -> None:
    """Lease over and no message carries the key: the next caller owns it, for a new lease."""
    a = await account(store)
    other = await owned(store, a, "other-key")
    await store.accept_message(message(a, other))  # another key's message does not count
    await store.accept_message(message(a, None))
    await store.reserve_idempotency(a, "k1", H1, T0, LEASE)
    assert await store.reserve_idempotency(a, "k1", H1, T0 + LEASE, LEASE) == OWNER
    assert await store.reserve_idempotency(a, "k1", H1, T0 + LEASE + 29, LEASE) == BUSY
    assert await store.reserve_idempotency(a, "k1", H1, T0 + 2 * LEASE + 1, LEASE) == OWNER


async def owned(store: Store, a: int, key: str, at: float = T0) -> str:
    """Reserve `key` as its owner; the reference its message carries."""
    found = await store.reserve_idempotency(a, key, H1, at, LEASE)
    assert found == OWNER and found.generation is not None
    return message_ref(key, found.generation)


async def test_a_stored_message_is_recovered(store: Store) -> None:
    """The owner stored the message (with its reservation) and did not finish: the next
    reservation is RECOVERED with that msgid (lease or not), then DONE with it."""
    a = await account(store)
    ref = await owned(store, a, "k1")
    msgid = await store.accept_message(message(a, ref))
    found = await store.reserve_idempotency(a, "k1", H1, T0 + 10, LEASE)
    assert found == Reservation(Claim.RECOVERED, msgid)
    found = await store.reserve_idempotency(a, "k1", H1, T0 + LEASE + 2, LEASE)
    assert found == Reservation(Claim.DONE, msgid, None)
    assert await store.ledger_sum(a) == await store.balance(a) == 99


async def test_accept_message_keeps_the_key_of_its_account_only(store: Store) -> None:
    """The key stored with a message is the account's: another account's pending key of
    the same name is taken over, not recovered from it."""
    a, b = await account(store), await account(store, "zoe")
    await store.reserve_idempotency(a, "k1", H1, T0, LEASE)
    ref = await owned(store, b, "k1")
    msgid = await store.accept_message(message(b, ref))
    assert await store.reserve_idempotency(a, "k1", H1, T0 + 31, LEASE) == OWNER
    found = await store.reserve_idempotency(b, "k1", H1, T0 + 31, LEASE)
    assert found == Reservation(Claim.RECOVERED, msgid)


async def test_keys_are_scoped_by_account(store: Store) -> None:
    """Two accounts may use the same key, each for its own request."""
    a, b = await account(store), await account(store, "zoe")
    assert await store.reserve_idempotency(a, "k1", H1, T0, LEASE) == OWNER
    assert await store.reserve_idempotency(b, "k1", H2, T0, LEASE) == OWNER
    await store.finish_idempotency(a, "k1", 111111111, None)
    assert await store.reserve_idempotency(b, "k1", H2, T0 + 1, LEASE) == BUSY


async def test_release_forgets_a_pending_key_only(store: Store) -> None:
    """A released pending key is owned afresh by the next caller; a done key stays done;
    a pending key whose message was stored is finished with it instead."""
    a = await account(store)
    await store.reserve_idempotency(a, "k1", H1, T0, LEASE)
    await store.release_idempotency(a, "k1")
    assert await store.reserve_idempotency(a, "k1", H2, T0 + 1, LEASE) == OWNER
    await store.finish_idempotency(a, "k1", 123456789, None)
    await store.release_idempotency(a, "k1")
    found = await store.reserve_idempotency(a, "k1", H2, T0 + 2, LEASE)
    assert found == Reservation(Claim.DONE, 123456789, None)
    msgid = await store.accept_message(message(a, await owned(store, a, "k2")))
    await store.release_idempotency(a, "k2")
    found = await store.reserve_idempotency(a, "k2", H1, T0 + 1, LEASE)
    assert found == Reservation(Claim.DONE, msgid, None)
    await store.release_idempotency(a, "never-reserved")  # nothing to do


async def test_purge_deletes_done_and_dead_keys_created_before_the_horizon(
    store: Store,
) -> None:
    """Purge deletes the keys created before its time that are done or pending with a
    lease run out before it (a dead owner); keeps newer ones and live leases."""
    a = await account(store)
    for key, at in (("old", T0), ("dead", T0), ("taken-over", T0), ("new", T0 + 100)):
        await store.reserve_idempotency(a, key, H1, at, LEASE)
    assert await store.reserve_idempotency(a, "taken-over", H1, T0 + 45, LEASE) == OWNER
    await store.finish_idempotency(a, "old", 1, None)
    await store.finish_idempotency(a, "new", 2, None)
    assert await store.purge_idempotency(T0 + 50) == 2
    assert await store.purge_idempotency(T0 + 50) == 0
    assert await store.reserve_idempotency(a, "old", H2, T0 + 200, LEASE) == OWNER
    assert await store.reserve_idempotency(a, "dead", H2, T0 + 200, LEASE) == OWNER
    assert await store.reserve_idempotency(a, "taken-over", H2, T0 + 46, LEASE) == MISMATCH
    found = await store.reserve_idempotency(a, "new", H1, T0 + 200, LEASE)
    assert found == Reservation(Claim.DONE, 2, None)


async def test_concurrent_reservations_make_one_owner(store: Store) -> None:
    """20 reservations of one key at once: exactly one OWNER, the others IN_PROGRESS."""
    a = await account(store)
    found = await asyncio.gather(
        *(store.reserve_idempotency(a, "k1", H1, T0, LEASE) for _ in range(20))
    )
    assert sorted(r.claim.value for r in found) == ["in-progress"] * 19 + ["owner"]


async def test_a_settled_reservation_fences_its_stalled_owner(store: Store) -> None:
    """An owner stalled past its lease whose reservation another owner settled meanwhile
    (refused and remembered, or released) stores nothing when it finally accepts:
    IdempotencyBusy, no message, no debit (its answer is then the settled one)."""
    a = await account(store)
    stalled = await owned(store, a, "k1")
    taken = await store.reserve_idempotency(a, "k1", H1, T0 + LEASE + 1, LEASE)
    assert taken == OWNER
    await store.finish_idempotency(a, "k1", None, "02", taken.generation)  # refused: no credit
    before = await store.balance(a)
    try:
        await store.accept_message(message(a, stalled))
    except exc.IdempotencyBusy:
        pass
    else:
        raise AssertionError("the stalled owner stored a message")
    assert await store.count_messages(a) == 0 and await store.balance(a) == before
    again = await store.reserve_idempotency(a, "k1", H1, T0 + LEASE + 2, LEASE)
    assert again == Reservation(Claim.DONE, None, "02")
    released = await owned(store, a, "k2")
    await store.release_idempotency(a, "k2")
    try:
        await store.accept_message(message(a, released))
    except exc.IdempotencyBusy:
        pass
    else:
        raise AssertionError("a released reservation stored a message")
    assert await store.count_messages(a) == 0
