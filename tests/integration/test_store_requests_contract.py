"""Request-rate windows in the store, on every backend: counted atomically, shared by
every caller, started again by a new window."""

from __future__ import annotations

import asyncio

from passerelle.core.ratelimit import RequestWindow
from passerelle.store.base import Store


async def test_a_window_allows_its_limit_then_refuses(store: Store) -> None:
    """Three of five counts pass a limit of 3; the next window starts again."""
    window = RequestWindow("l:alice", 100.0, 3)
    assert [await store.count_request(window) for _ in range(5)] == [True] * 3 + [False] * 2
    assert await store.count_request(RequestWindow("l:alice", 101.0, 3))
    assert await store.count_request(RequestWindow("l:bob", 100.0, 3))


async def test_concurrent_counts_pass_exactly_the_limit(store: Store) -> None:
    """Fifty counts at once in one window of 7: exactly seven pass."""
    window = RequestWindow("l:carol", 200.0, 7)
    passed = await asyncio.gather(*(store.count_request(window) for _ in range(50)))
    assert passed.count(True) == 7
