"""Connector ownership in the store, on every backend: one owner per connector, leases
on the database's clock, given back at a stop, taken over when they end."""

from __future__ import annotations

import asyncio
import random

from passerelle.store.base import Store


async def test_one_owner_per_connector(store: Store) -> None:
    """The first claim wins; another owner gets nothing while the lease holds."""
    assert await store.claim_connectors(["a", "b"], "one", 30.0, {}) == {"a", "b"}
    assert await store.claim_connectors(["a", "b", "c"], "two", 30.0, {}) == {"c"}
    assert await store.claim_connectors(["a", "b"], "one", 30.0, {"a": True}) == {"a", "b"}
    owners = await store.connector_owners()
    assert {n: (o.owner, o.bound) for n, o in owners.items()} == {
        "a": ("one", True),
        "b": ("one", False),
        "c": ("two", False),
    }


async def test_window_use_is_recorded_with_the_lease(store: Store) -> None:
    """Each claim records (in use, window) per connector, 0/0 for a name it lacks."""
    use = {"a": (3, 10)}
    assert await store.claim_connectors(["a", "b"], "one", 30.0, {"a": True}, use) == {"a", "b"}
    owners = await store.connector_owners()
    assert {n: (o.in_use, o.window) for n, o in owners.items()} == {"a": (3, 10), "b": (0, 0)}
    await store.claim_connectors(["a", "b"], "one", 30.0, {"a": True}, {"a": (0, 10), "b": (1, 5)})
    owners = await store.connector_owners()
    assert {n: (o.in_use, o.window) for n, o in owners.items()} == {"a": (0, 10), "b": (1, 5)}
    await store.claim_connectors(["a"], "two", 30.0, {}, {"a": (9, 9)})  # not the owner
    await store.claim_connectors(["a", "b"], "one", 30.0, {})
    owners = await store.connector_owners()
    assert {n: (o.owner, o.in_use, o.window) for n, o in owners.items()} == {
        "a": ("one", 0, 0),
        "b": ("one", 0, 0),
    }


async def test_concurrent_claims_give_one_owner(store: Store) -> None:
    """Ten owners claiming one connector at once: exactly one holds it."""
    held = await asyncio.gather(
        *(store.claim_connectors(["x"], f"o{i}", 30.0, {}) for i in range(10))
    )
    assert sum(1 for names in held if names == {"x"}) == 1


async def test_a_lease_that_ends_is_taken_over(store: Store) -> None:
    """A dead owner's connector goes to the next claimer once its lease has ended."""
    assert await store.claim_connectors(["x"], "dead", 0.2, {}) == {"x"}
    assert await store.claim_connectors(["x"], "next", 30.0, {}) == frozenset()
    await asyncio.sleep(0.35)
    assert await store.connector_owners() == {}
    assert await store.claim_connectors(["x"], "next", 30.0, {}) == {"x"}


async def test_release_and_unwanted_names_are_given_back(store: Store) -> None:
    """A stop gives every connector back at once; a name no longer wanted is given back."""
    assert await store.claim_connectors(["x", "y"], "one", 30.0, {}) == {"x", "y"}
    assert await store.claim_connectors(["x"], "one", 30.0, {}) == {"x"}
    assert await store.claim_connectors(["y"], "two", 30.0, {}) == {"y"}
    await store.release_connectors("one")
    assert await store.claim_connectors(["x"], "two", 30.0, {}) == {"x"}


async def test_store_clock_is_the_database_clock(store: Store) -> None:
    """`clock()` reads the time leases are written on: an ownership taken now ends
    `lease` seconds after it."""
    before = store.clock()
    await store.claim_connectors(["x"], "one", 30.0, {})
    after = store.clock()
    until = (await store.connector_owners())["x"].until
    assert before + 30.0 - 0.5 <= until <= after + 30.0 + 0.5


async def test_heartbeats_list_the_live_processes(store: Store) -> None:
    """Live processes are listed in id order; one whose lease ended, or that stopped, is
    not."""
    assert await store.heartbeat("b", 30.0) == ["b"]
    assert await store.heartbeat("a", 0.2) == ["a", "b"]
    assert await store.heartbeat("c", 30.0) == ["a", "b", "c"]
    await asyncio.sleep(0.35)
    assert await store.heartbeat("b", 30.0) == ["b", "c"]
    await store.release_connectors("c")
    assert await store.heartbeat("b", 30.0) == ["b"]


async def test_overlapping_concurrent_claims_hold_disjoint_sets(store: Store) -> None:
    """Owners claiming and giving back overlapping connectors at once never hold one together."""
    names = [f"c{i}" for i in range(8)]
    rng = random.Random(7)
    for _ in range(8):
        wanted = {f"o{i}": rng.sample(names, rng.randint(1, len(names))) for i in range(8)}
        stopping = [o for o in wanted if rng.random() < 0.25]
        claiming = {o: w for o, w in wanted.items() if o not in stopping}
        held = await asyncio.gather(
            *(store.claim_connectors(w, o, 30.0, {}) for o, w in claiming.items()),
            *(store.release_connectors(o) for o in stopping),
        )
        claims = dict(zip(claiming, held[: len(claiming)], strict=True))
        assert sum(map(len, claims.values())) == len(frozenset().union(*claims.values()))
        owners = await store.connector_owners()
        for o, h in claims.items():
            assert h <= set(claiming[o])
            assert {n for n, row in owners.items() if row.owner == o} == h
