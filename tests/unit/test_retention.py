"""The retention job on the in-memory twin, with a controlled clock."""

from __future__ import annotations

import asyncio

from passerelle.core.values import NewAccount, NewMessage
from passerelle.retention import DAY_S, IDEMPOTENCY_HORIZON_S, RetentionJob, cutoff_of
from passerelle.service_workers import Operations
from passerelle.store.memory import MemoryStore

NOW = 1_800_000_000.0


async def store_with(ages_in_days: list[float]) -> tuple[MemoryStore, list[int]]:
    """A memory store with one message per age, each handed to an operator; their msgids."""
    store = MemoryStore()
    await store.open()
    account = await store.create_account(NewAccount("a", "a@x.fr", "h", "s", 0.0, credits=50))
    msgids = []
    for age in ages_in_days:
        message = NewMessage(account.id, NOW - age * DAY_S, "S", 5, "t", False, False, ("3361",), 1)
        msgids.append(await store.accept_message(message))
    for due in await store.claim_due(NOW, 30.0, 100):
        await store.mark_submitted(due.id, "op", f"id{due.id}", NOW)
    return store, msgids


def test_cutoff_is_off_at_zero_days() -> None:
    """0 days keeps everything; otherwise the cutoff is that many days before now."""
    assert cutoff_of(NOW, 0) is None
    assert cutoff_of(NOW, 180) == NOW - 180 * DAY_S


async def test_run_once_purges_what_is_past_the_period() -> None:
    """A run at `now` removes messages older than `days`, keeps the younger ones."""
    store, msgids = await store_with([400, 181, 179.9, 1])
    job = RetentionJob(Operations(store), days=180, clock=lambda: NOW)
    assert await job.run_once() == 2
    assert sorted(store.messages) == sorted(msgids[2:])
    assert job.purged == 2
    assert await job.run_once() == 0


async def test_the_job_runs_after_its_first_delay_and_stops() -> None:
    """Started, it purges after `first` seconds; stop() ends it; 0 days never starts it."""
    store, _ = await store_with([200])
    job = RetentionJob(Operations(store), days=180, clock=lambda: NOW, first=0.01, every=3600)
    job.start()
    for _ in range(200):  # bounded: 2 s
        if job.purged:
            break
        await asyncio.sleep(0.01)
    await job.stop()
    assert job.purged == 1 and store.messages == {}
    idle = RetentionJob(Operations(store), days=0, clock=lambda: NOW, first=0.0)
    idle.start()
    assert idle._task is None
    await idle.stop()


async def test_run_once_purges_idempotency_keys_past_their_horizon() -> None:
    """A run deletes the answered Idempotency-Keys created over a day before now only."""
    store, msgids = await store_with([1])
    for key, at in (("old", NOW - IDEMPOTENCY_HORIZON_S - 1), ("young", NOW - 60)):
        await store.reserve_idempotency(1, key, "h", at, 30.0)
        await store.finish_idempotency(1, key, msgids[0], None)
    await RetentionJob(Operations(store), days=180, clock=lambda: NOW).run_once()
    assert sorted(k for _, k in store.idem_rows) == ["young"]
