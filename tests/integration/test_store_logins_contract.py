"""The failed-login counters of the store, on every backend (memory twin and SQLite).

The rule itself (what is allowed) is pinned in tests/unit/test_ratelimit.py; here, that
each backend applies it atomically and keeps what it is given.
"""

from __future__ import annotations

import asyncio

from passerelle.core.ratelimit import LoginPolicy
from passerelle.store.base import Store

POLICY = LoginPolicy(per_login=10, per_address=30, window=300.0)


async def test_concurrent_attempts_never_pass_the_limit(store: Store) -> None:
    """500 attempts begun at once for one login: exactly 10 are allowed."""
    decisions = await asyncio.gather(
        *(
            store.begin_login_attempt("dave", f"10.0.{i // 250}.{i % 250}", 100.0, POLICY)
            for i in range(500)
        )
    )
    assert sum(d.allowed for d in decisions) == 10
    refused = [d for d in decisions if not d.allowed]
    assert {d.blocked_until for d in refused} == {400.0}


async def test_concurrent_attempts_never_pass_the_address_limit(store: Store) -> None:
    """500 attempts begun at once from one address over 500 logins: exactly 30 are allowed."""
    decisions = await asyncio.gather(
        *(store.begin_login_attempt(f"user{i}", "10.8.8.8", 100.0, POLICY) for i in range(500))
    )
    assert sum(d.allowed for d in decisions) == 30
    assert all(d.by_address and d.blocked_until == 400.0 for d in decisions if not d.allowed)


async def test_concurrent_successes_give_every_count_back(store: Store) -> None:
    """50 attempts begun and succeeding at once give every count back: none lost, none kept."""
    policy = LoginPolicy(per_login=1000, per_address=1000, window=300.0)

    async def verified(i: int) -> bool:
        decision = await store.begin_login_attempt("dave", "10.7.7.7", 100.0 + i / 100, policy)
        await store.login_succeeded("dave", "10.7.7.7", 100.0 + i / 100)
        return decision.allowed

    assert all(await asyncio.gather(*(verified(i) for i in range(50))))
    after = await store.begin_login_attempt("dave", "10.7.7.7", 101.0, policy)
    assert (after.login.count, after.address.count) == (1, 1)


async def test_counters_persist_between_calls_and_windows_end(store: Store) -> None:
    """One address's 30 attempts spread over logins refuse the 31st until its window ends."""
    for i in range(30):
        assert (await store.begin_login_attempt(f"u{i}", "10.9.9.9", 100.0 + i, POLICY)).allowed
    refused = await store.begin_login_attempt("other", "10.9.9.9", 200.0, POLICY)
    assert not refused.allowed and refused.by_address and refused.blocked_until == 400.0
    assert (await store.begin_login_attempt("other", "10.9.9.9", 400.0, POLICY)).allowed


async def test_success_uncounts_and_makes_the_address_known(store: Store) -> None:
    """A success gives its attempt back, and its address passes the login's limit later."""
    first = await store.begin_login_attempt("dave", "10.1.1.1", 100.0, POLICY)
    assert first.allowed and first.login.count == 1
    await store.login_succeeded("dave", "10.1.1.1", 101.0)
    for i in range(10):
        assert (await store.begin_login_attempt("dave", f"10.2.2.{i}", 102.0, POLICY)).allowed
    assert not (await store.begin_login_attempt("dave", "10.3.3.3", 103.0, POLICY)).allowed
    again = await store.begin_login_attempt("dave", "10.1.1.1", 104.0, POLICY)
    assert again.allowed and again.known and again.login.count == 11


async def test_known_addresses_are_forgotten_after_their_time(store: Store) -> None:
    """An address known longer ago than `known_s` is an unknown address again."""
    policy = LoginPolicy(per_login=1, per_address=30, window=300.0, known_s=50.0)
    assert (await store.begin_login_attempt("eve", "10.4.4.4", 100.0, policy)).allowed
    await store.login_succeeded("eve", "10.4.4.4", 100.0)
    assert (await store.begin_login_attempt("eve", "10.5.5.5", 110.0, policy)).allowed
    assert (await store.begin_login_attempt("eve", "10.4.4.4", 140.0, policy)).known
    late = await store.begin_login_attempt("eve", "10.4.4.4", 160.0, policy)
    assert not late.allowed and not late.known


async def test_blocks_list_what_is_at_its_limit_until_its_window_ends(store: Store) -> None:
    """login_blocks names the logins and addresses at their limit, with their window's end."""
    policy = LoginPolicy(per_login=2, per_address=3, window=300.0)
    for address in ("10.0.0.1", "10.0.0.2"):
        assert (await store.begin_login_attempt("zoe", address, 100.0, policy)).allowed
    for login in ("a", "b", "c"):
        assert (await store.begin_login_attempt(login, "10.6.6.6", 150.0, policy)).allowed
    logins, addresses = await store.login_blocks(200.0, policy)
    assert logins == {"zoe": 400.0}
    assert addresses == {"10.6.6.6": 450.0}
    assert await store.login_blocks(420.0, policy) == ({}, {"10.6.6.6": 450.0})


async def test_known_address_is_a_success_after_the_given_time(store: Store) -> None:
    """known_address is true only for a pair that succeeded after `since`."""
    assert not await store.known_address("zoe", "10.0.0.1", 0.0)
    await store.login_succeeded("zoe", "10.0.0.1", 100.0)
    assert await store.known_address("zoe", "10.0.0.1", 99.0)
    assert not await store.known_address("zoe", "10.0.0.1", 100.0)
    assert not await store.known_address("zoe", "10.0.0.2", 0.0)
