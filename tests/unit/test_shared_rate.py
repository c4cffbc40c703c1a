"""The request-rate limit holds across processes: each counts in the window every
process shares (`core.ratelimit.request_window`, counted by the store)."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import exceptions as exc
from passerelle.core.ratelimit import request_window
from passerelle.service import Gateway
from passerelle.store.memory import MemoryStore
from tests.support import PASSWORD, make_settings


def test_window_of_a_rate() -> None:
    """One-second windows at 1/s and above; longer ones below, so the limit is whole."""
    assert request_window("a", 10.0, 12.7) == request_window("a", 10.0, 12.0)
    assert request_window("a", 10.0, 12.7).limit == 10
    assert request_window("a", 0.5, 13.0).start == 12.0
    assert request_window("a", 0.5, 13.0).limit == 1
    assert request_window("a", 2.5, 13.9).start == 13.0


async def test_two_processes_share_one_rate() -> None:
    """Two gateways (two processes) on one database: a 3/s account gets 3 in all, not 6."""
    store = MemoryStore(now_source=lambda: 5000.2)
    await store.open()
    settings = make_settings()
    first, second = Gateway(store, settings), Gateway(store, settings)
    await first.create_account("alice", "a@example.com", PASSWORD, rate_limit=3.0)
    outcomes = []
    for i in range(6):
        gateway = (first, second)[i % 2]
        try:
            await gateway.authenticate("alice", PASSWORD, "127.0.0.1")
            outcomes.append("ok")
        except exc.RateLimited:
            outcomes.append("16")
    assert outcomes.count("ok") == 3, outcomes
    store.now_source = lambda: 5001.2  # the next window, once a token is back locally
    await asyncio.sleep(0.4)
    await second.authenticate("alice", PASSWORD, "127.0.0.1")
    first.close()
    second.close()


@pytest.mark.parametrize("rate", [0.0])
async def test_unlimited_accounts_count_nothing(rate: float) -> None:
    """An account without a rate limit writes no window."""
    store = MemoryStore()
    await store.open()
    gateway = Gateway(store, make_settings())
    await gateway.create_account("bob", "b@example.com", PASSWORD, rate_limit=rate or None)
    for _ in range(5):
        await gateway.authenticate("bob", PASSWORD, "127.0.0.1")
    assert store.windows == {}
    gateway.close()


async def test_unknown_logins_write_no_window() -> None:
    """With a default rate limit, requests for logins that do not exist count in the
    process only: an attacker's made-up logins add no row to the shared windows."""
    store = MemoryStore()
    await store.open()
    gateway = Gateway(store, make_settings(account_rate_limit=5.0))
    for i in range(20):
        with pytest.raises(exc.BadCredentials):
            await gateway.authenticate(f"nobody{i}", PASSWORD, "127.0.0.1")
    assert store.windows == {}
    gateway.close()
