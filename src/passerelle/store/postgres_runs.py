"""Runs of delivery outcomes written together on PostgreSQL: submit results and receipts.

The dispatcher records one submit_sm_resp per recipient and the receipt handler one
receipt per deliver_sm, thousands a second; one transaction each would cost a commit
(a WAL flush) and half a dozen round trips per message. A `RunBatcher` queues them and
writes everything queued since its last commit in one transaction with a few
statements for the whole run (`submitted_run`, `receipts_run`), like the accept batcher
does for accepts. Each caller is answered after that commit.

A run that fails on a deadlock or a serialization failure (another process held the
same rows in the other order) is tried again, up to `RETRIES` times; any other error
fails every caller of the run (their recipients are claimed again when their lease
ends, or their receipts come again: the operator repeats an unacknowledged deliver_sm).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg

from passerelle.core.states import RecipientState
from passerelle.core.transitions import Change, Ignored, ReceiptArrived, SubmitAccepted, apply
from passerelle.core.values import ReceiptMatch
from passerelle.exceptions import StoreError
from passerelle.store.postgres_changes import (
    Row,
    load_ids_by_smsc_id,
    load_many,
    lock_ids,
    persist_many,
)

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

log = logging.getLogger("passerelle.store")

T = TypeVar("T")
R = TypeVar("R")
RETRIES = 3

_ANY_EARLY = "SELECT EXISTS (SELECT 1 FROM pending_receipts)"
_EARLY = (
    "SELECT p.connector, p.smsc_id, p.state, p.stat, p.err FROM pending_receipts p"
    " JOIN unnest($1::text[], $2::text[]) AS k(c, s) ON p.connector = k.c AND p.smsc_id = k.s"
    " ORDER BY p.id"
)
_FORGET_EARLY = (
    "DELETE FROM pending_receipts p USING unnest($1::text[], $2::text[]) AS k(c, s)"
    " WHERE p.connector = k.c AND p.smsc_id = k.s"
)
_KEEP_EARLY = (
    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err, received_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int2[], $4::text[], $5::text[],"
    " $6::float8[])"
)


@dataclass(slots=True)
class _Job(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(repr=False)


class RunBatcher(Generic[T, R]):
    """Queues items and writes each run of them with `apply` in one transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        apply: Callable[[Conn, list[T]], Awaitable[list[R]]],
        max_batch: int = 512,
    ) -> None:
        self._pool = pool
        self._apply = apply
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job[T, R] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue `item`; the future gives its outcome once the run's commit is done."""
        if self._task is None:
            raise StoreError("the store is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(item, future))
        return future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            run = [first]
            while len(run) < self._max_batch and not self._queue.empty():
                job = self._queue.get_nowait()
                if job is None:
                    stopping = True
                    break
                run.append(job)
            await self._commit(run)

    async def _commit(self, run: list[_Job[T, R]]) -> None:
        items = [job.item for job in run]
        for attempt in range(RETRIES + 1):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    outcomes = await self._apply(conn, items)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt < RETRIES:
                    continue
                outcomes, error = [], StoreError("the database kept refusing a run: deadlock")
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as failure:
                log.error("delivery run failed: %s", failure)
                outcomes, error = [], StoreError(f"the database refused the write: {failure}")
            for job in run:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        for job, outcome in zip(run, outcomes, strict=True):
            if not job.future.done():
                job.future.set_result(outcome)


# --- the runs ---------------------------------------------------------------------------

Submitted = tuple[int, str, str, float]  # recipient id, connector, operator id, at
Receipt = tuple[str, str, RecipientState, str, str | None, float]


async def _early(conn: Conn, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The newest receipt kept for each (connector, operator id) of `pairs`, if any."""
    if not await conn.fetchval(_ANY_EARLY):
        return {}
    rows = await conn.fetch(_EARLY, [c for c, _ in pairs], [s for _, s in pairs])
    return {(r[0], r[1]): r for r in rows}  # ordered by id: the newest wins


async def submitted_run(conn: Conn, items: list[Submitted]) -> list[None]:
    """Record a run of submit_sm_resp: locks, reads and writes a few statements in all."""
    pairs = [(c, s) for _, c, s, _ in items]
    await lock_ids(conn, pairs)
    early = await _early(conn, pairs)
    rows = await load_many(conn, sorted({rid for rid, _, _, _ in items}))
    changes: list[tuple[Row, Change]] = []
    states: dict[int, RecipientState] = {}
    used: list[tuple[str, str]] = []
    for rid, connector, smsc_id, now in items:
        row = rows.get(rid)
        if row is None:
            continue
        kept = early.get((connector, smsc_id))
        receipt = (
            None if kept is None else ReceiptArrived(RecipientState(kept[2]), kept[3], kept[4], now)
        )
        recipient = row.recipient
        if rid in states:  # an earlier submit of this run moved it
            recipient = replace(recipient, state=states[rid])
        change = apply(recipient, SubmitAccepted(connector, smsc_id, now, receipt))
        if isinstance(change, Ignored):
            continue
        states[rid] = change.new
        changes.append((row, change))
        if receipt is not None:
            used.append((connector, smsc_id))
    await persist_many(conn, changes)
    if used:
        await conn.execute(_FORGET_EARLY, [c for c, _ in used], [s for _, s in used])
    return [None] * len(items)


async def receipts_run(conn: Conn, items: list[Receipt]) -> list[ReceiptMatch]:
    """Record a run of receipts: matched ones change their recipient, the others are
    kept for their submit result."""
    pairs = [(c, s) for c, s, _, _, _, _ in items]
    await lock_ids(conn, pairs)
    ids = await load_ids_by_smsc_id(conn, pairs)
    rows = await load_many(conn, sorted(set(ids.values())))
    outcomes: list[ReceiptMatch] = []
    changes: list[tuple[Row, Change]] = []
    states: dict[int, RecipientState] = {}
    keep: list[Receipt] = []
    for item in items:
        connector, smsc_id, state, stat, err, now = item
        rid = ids.get((connector, smsc_id))
        row = rows.get(rid) if rid is not None else None
        if row is None:
            keep.append(item)
            outcomes.append(ReceiptMatch.PENDING)
            continue
        recipient = row.recipient
        if row.id in states:  # an earlier receipt of this run moved it
            recipient = replace(recipient, state=states[row.id])
        change = apply(recipient, ReceiptArrived(state, stat, err, now))
        if isinstance(change, Ignored):
            outcomes.append(ReceiptMatch.IGNORED)
            continue
        states[row.id] = change.new
        changes.append((row, change))
        outcomes.append(ReceiptMatch.APPLIED)
    await persist_many(conn, changes)
    if keep:
        columns = list(zip(*keep, strict=True))
        await conn.execute(
            _KEEP_EARLY,
            list(columns[0]),
            list(columns[1]),
            [int(s) for s in columns[2]],
            list(columns[3]),
            list(columns[4]),
            list(columns[5]),
        )
    return outcomes
