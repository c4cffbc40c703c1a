"""Group commit on PostgreSQL: `RunBatcher`, and the run of accepted messages.

A `RunBatcher` queues items and writes every item queued since its last commit (up to
`max_batch`) in one transaction, with a function that handles the whole run in a few
statements (`unnest` of arrays: one round trip per table, whatever the run's size).
Each caller is answered only after that commit (PostgreSQL's default
`synchronous_commit`: the WAL is flushed), so a client never reads a msgid whose
message is not durable. A run that fails on a deadlock or a serialization failure is
tried again (up to `RETRIES` times); any other error fails every caller of the run.
Whatever goes wrong, every caller of the run is answered and the loop goes on with the
next run. Each process runs one for accepts (`accept_run`, here) and one each for submit results
and receipts (`postgres_runs.py`).

Credits: the batch locks the accounts it debits in id order (two processes' batches
never deadlock on them), debits each account once for its whole run, and when an
account cannot pay for all of it, charges its messages one at a time in arrival order,
so exactly those that do not fit are refused (02). `credits >= 0` is also a CHECK of
the table: no process can overdraw, whatever the interleaving.

msgids are drawn at random (the legacy API's 9 digits); one that is already taken is
skipped by `ON CONFLICT DO NOTHING` and drawn again, in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import asyncpg

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

from passerelle.core.values import NewMessage
from passerelle.exceptions import NoCredit, StoreError
from passerelle.store.msgids import message_row

log = logging.getLogger("passerelle.store")

_MSGID_TRIES = 50
WORK_CHANNEL = "passerelle_work"

_LOCK = "SELECT id FROM accounts WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE"
_DEBIT = "UPDATE accounts SET credits = credits - $2 WHERE id = $1 AND credits >= $2"
_DEBIT_MANY = (
    "UPDATE accounts a SET credits = a.credits - d.total"
    " FROM unnest($1::int[], $2::bigint[]) AS d(id, total)"
    " WHERE a.id = d.id AND a.credits >= d.total RETURNING a.id"
)
_MESSAGES = (
    "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type, text, flash,"
    " callback, recipient_count, cost, idem_key)"
    " SELECT * FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::text[], $5::int2[],"
    " $6::text[], $7::bool[], $8::bool[], $9::int[], $10::int[], $11::text[])"
    " ON CONFLICT (msgid) DO NOTHING RETURNING msgid"
)
_RECIPIENTS = (
    "INSERT INTO recipients (msgid, dest, state, attempts, next_attempt_at)"
    " SELECT m, d, 0, 0, t FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS r(m, d, t)"
)
_LEDGER = (
    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
    " SELECT a, t, d, 'debit', 'api', 'envoi', m"
    " FROM unnest($1::int[], $2::float8[], $3::bigint[], $4::bigint[]) AS l(a, t, d, m)"
)


T = TypeVar("T")
R = TypeVar("R")
RETRIES = 3


@dataclass(slots=True)
class _Job(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(repr=False)


class RunBatcher(Generic[T, R]):
    """Queues items and writes each run of them with `apply` in one transaction.

    `apply(conn, items)` gives one outcome per item: its result, or an exception
    instance that refuses that item alone (it wrote nothing for it)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        apply: Callable[[Conn, list[T]], Awaitable[list[R | Exception]]],
        max_batch: int = 512,
    ) -> None:
        self._pool = pool
        self._apply = apply
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job[T, R] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # runs committed (a metric)
        self.operations = 0  # items in them

    def start(self) -> None:
        """Start the run loop (in the running event loop)."""
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
        failure: Exception | None = None
        outcomes: list[R | Exception] = []
        for attempt in range(RETRIES + 1):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    outcomes = await self._apply(conn, items)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as error:
                if attempt == RETRIES:
                    failure = StoreError(f"the database kept refusing a run: {error}")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                log.error("write run failed: %s", error)
                failure = StoreError(f"the database refused the write: {error}")
                break
            except Exception as error:  # a bug, or StoreError: its callers fail, the loop goes on
                log.exception("write run failed")
                failure = error if isinstance(error, StoreError) else StoreError(str(error))
                break
        if failure is not None:
            for job in run:
                if not job.future.done():
                    job.future.set_exception(failure)
            return
        self.batches += 1
        self.operations += len(run)
        for job, outcome in zip(run, outcomes, strict=True):
            if job.future.done():
                continue
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)


# --- the run of accepted messages -------------------------------------------------------


@dataclass(slots=True)
class Accept:
    """One message and the msgid drawn for it (drawn again if it is taken)."""

    message: NewMessage
    msgid: int


def accept_run(
    draw: Callable[[], int],
) -> Callable[[Conn, list[Accept]], Awaitable[list[int | Exception]]]:
    """The run that writes accepted messages, drawing new msgids with `draw`."""

    async def write(conn: Conn, batch: list[Accept]) -> list[int | Exception]:
        """Debit, then insert every row of the paid messages; each one's msgid, or
        NoCredit for those the account could not pay."""
        totals: dict[int, int] = {}
        for item in batch:
            account = item.message.account_id
            totals[account] = totals.get(account, 0) + item.message.cost
        ids = sorted(totals)
        if len(ids) > 1:
            await conn.execute(_LOCK, ids)
        paid = {row[0] for row in await conn.fetch(_DEBIT_MANY, ids, [totals[i] for i in ids])}
        refused = [False] * len(batch)
        for i, item in enumerate(batch):
            m = item.message
            if m.account_id not in paid:
                status = await conn.execute(_DEBIT, m.account_id, m.cost)
                refused[i] = status != "UPDATE 1"
        kept = [item for item, no in zip(batch, refused, strict=True) if not no]
        if kept:
            await _insert_messages(conn, kept, draw)
            await conn.execute(_RECIPIENTS, *_recipient_columns(kept))
            await conn.execute(
                _LEDGER,
                [i.message.account_id for i in kept],
                [i.message.created_at for i in kept],
                [-i.message.cost for i in kept],
                [i.msgid for i in kept],
            )
            await conn.execute("SELECT pg_notify($1, '')", WORK_CHANNEL)
        return [NoCredit() if no else item.msgid for item, no in zip(batch, refused, strict=True)]

    return write


async def _insert_messages(conn: Conn, items: list[Accept], draw: Callable[[], int]) -> None:
    """Insert the messages; those whose msgid was taken get a new one, until all fit."""
    pending = items
    for _ in range(_MSGID_TRIES):
        rows = await conn.fetch(_MESSAGES, *_message_columns(pending))
        stored = {row[0] for row in rows}
        seen: set[int] = set()
        again = []
        for item in pending:
            if item.msgid in stored and item.msgid not in seen:
                seen.add(item.msgid)
            else:
                item.msgid = draw()
                again.append(item)
        if not again:
            return
        pending = again
    raise StoreError("no free msgid found")


def _message_columns(items: list[Accept]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(11)]
    for item in items:
        for column, value in zip(columns, message_row(item.message, item.msgid), strict=True):
            column.append(value)
    return columns


def _recipient_columns(items: list[Accept]) -> tuple[list[int], list[str], list[float]]:
    msgids: list[int] = []
    dests: list[str] = []
    ats: list[float] = []
    for item in items:
        m = item.message
        for dest in m.recipients:
            msgids.append(item.msgid)
            dests.append(dest)
            ats.append(m.created_at)
    return msgids, dests, ats
