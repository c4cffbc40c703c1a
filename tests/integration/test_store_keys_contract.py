"""API keys in the store, on every backend: created and listed newest first, revoked
once and only by their account, found by their digest until revoked, touched when used,
and each account sees only its own."""

from __future__ import annotations

from passerelle.core.keys import NewApiKey, key_digest
from passerelle.core.values import NewAccount
from passerelle.store.base import Store

T0 = 1_000_000.0


async def accounts(store: Store) -> tuple[int, int]:
    """Two accounts' ids."""
    made = [
        await store.create_account(NewAccount(login, f"{login}@x.fr", "h", "s", T0))
        for login in ("alice", "bob")
    ]
    return made[0].id, made[1].id


def new_key(account_id: int, n: int, at: float = T0) -> NewApiKey:
    """A key to store, its digest from `key{n}`."""
    return NewApiKey(account_id, f"name {n}", f"psl_pfx{n:05}", key_digest(f"key{n}"), at)


async def test_create_returns_the_stored_key_and_list_is_newest_first(store: Store) -> None:
    """A created key is stored as given, unused, active; lists show the newest first."""
    alice, _ = await accounts(store)
    first = await store.create_key(new_key(alice, 1, T0))
    second = await store.create_key(new_key(alice, 2, T0 + 5))
    assert (first.account_id, first.name, first.prefix, first.created_at) == (
        alice,
        "name 1",
        "psl_pfx00001",
        T0,
    )
    assert (first.last_used_at, first.revoked_at, first.active) == (None, None, True)
    assert second.id > first.id
    assert await store.list_keys(alice) == [second, first]


async def test_revoke_only_own_keys_and_only_once(store: Store) -> None:
    """Revoking works once, for the key's account only; an unknown id is refused."""
    alice, bob = await accounts(store)
    key = await store.create_key(new_key(alice, 1))
    assert not await store.revoke_key(bob, key.id, T0 + 1)
    assert not await store.revoke_key(alice, key.id + 1000, T0 + 1)
    assert (await store.list_keys(alice))[0].active
    assert await store.revoke_key(alice, key.id, T0 + 2)
    assert not await store.revoke_key(alice, key.id, T0 + 3)
    [revoked] = await store.list_keys(alice)
    assert (revoked.id, revoked.revoked_at, revoked.active) == (key.id, T0 + 2, False)


async def test_find_key_returns_the_key_and_its_account(store: Store) -> None:
    """find_key by digest gives the key and its account; None when unknown."""
    alice, _ = await accounts(store)
    key = await store.create_key(new_key(alice, 1))
    found = await store.find_key(key_digest("key1"))
    assert found is not None
    assert found[0] == key
    assert (found[1].id, found[1].login, found[1].email) == (alice, "alice", "alice@x.fr")
    assert await store.find_key(key_digest("key2")) is None


async def test_a_revoked_key_is_not_found(store: Store) -> None:
    """Once revoked, a key's digest finds nothing; the account's other keys still work."""
    alice, _ = await accounts(store)
    key = await store.create_key(new_key(alice, 1))
    other = await store.create_key(new_key(alice, 2))
    assert await store.revoke_key(alice, key.id, T0 + 1)
    assert await store.find_key(key_digest("key1")) is None
    found = await store.find_key(key_digest("key2"))
    assert found is not None and found[0].id == other.id


async def test_touch_key_sets_last_used_at(store: Store) -> None:
    """touch_key records the last use, seen by find_key and list_keys."""
    alice, _ = await accounts(store)
    key = await store.create_key(new_key(alice, 1))
    await store.touch_key(key.id, T0 + 10)
    await store.touch_key(key.id, T0 + 20)
    found = await store.find_key(key_digest("key1"))
    assert found is not None and found[0].last_used_at == T0 + 20
    [listed] = await store.list_keys(alice)
    assert listed.last_used_at == T0 + 20


async def test_accounts_see_only_their_own_keys(store: Store) -> None:
    """Each account lists only its keys; find_key names the right account for each."""
    alice, bob = await accounts(store)
    a = await store.create_key(new_key(alice, 1))
    b = await store.create_key(new_key(bob, 2))
    assert await store.list_keys(alice) == [a]
    assert await store.list_keys(bob) == [b]
    found = await store.find_key(key_digest("key2"))
    assert found is not None and (found[0].id, found[1].login) == (b.id, "bob")
    assert await store.revoke_key(bob, b.id, T0 + 1)
    assert await store.list_keys(alice) == [a]
