"""Group commit on PostgreSQL: accepted messages share one transaction.

Each process runs one `AcceptBatcher`. Requests queue their message; the batcher takes
every message queued since its last commit (up to `max_batch`) and writes them in one
transaction on a connection of its own, with one statement per table (`unnest` of
arrays: one round trip per table, whatever the batch size). Each request is answered
only after that commit (PostgreSQL's default `synchronous_commit`: the WAL is flushed),
so a client never reads a msgid whose message is not durable.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

from passerelle.core.values import NewMessage
from passerelle.exceptions import NoCredit, StoreError

log = logging.getLogger("passerelle.store")

_MSGID_TRIES = 50
WORK_CHANNEL = "passerelle_work"

_LOCK = "SELECT id FROM accounts WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE"
_DEBIT = "UPDATE accounts SET credits = credits - $2 WHERE id = $1 AND credits >= $2"
_DEBIT_MANY = (
    "UPDATE accounts a SET credits = a.credits - d.total"
    " FROM unnest($1::int[], $2::bigint[]) AS d(id, total)"
    " WHERE a.id = d.id AND a.credits >= d.total RETURNING a.id"
)
_MESSAGES = (
    "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type, text, flash,"
    " callback, recipient_count, cost)"
    " SELECT * FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::text[], $5::int2[],"
    " $6::text[], $7::bool[], $8::bool[], $9::int[], $10::int[])"
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


@dataclass(slots=True)
class Accept:
    """One message waiting for the batch that writes it."""

    message: NewMessage
    msgid: int
    future: asyncio.Future[int] = field(repr=False)


class AcceptBatcher:
    """The group-commit writer of accepted messages for one process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        draw: Callable[[], int],
        max_batch: int = 512,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._draw = draw
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[Accept | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.operations = 0

    def start(self) -> None:
        """Start the batch loop (in the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def accept(self, message: NewMessage) -> asyncio.Future[int]:
        """Queue `message`; the future gives its msgid once committed (NoCredit when the
        account cannot pay: nothing was written)."""
        if self._task is None:
            raise StoreError("the store is closed")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Accept(message, self._draw(), future))
        return future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._commit(batch)

    async def _commit(self, batch: list[Accept]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcomes = await self._write(conn, batch)
        except (asyncpg.PostgresError, OSError) as error:
            log.error("accept batch failed: %s", error)
            failure = StoreError(f"the database refused the write: {error}")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(failure)
            return
        self.batches += 1
        self.operations += len(batch)
        for item, refused in zip(batch, outcomes, strict=True):
            if item.future.done():
                continue
            if refused:
                item.future.set_exception(NoCredit())
            else:
                item.future.set_result(item.msgid)
        if self._on_commit is not None:
            self._on_commit()

    async def _write(self, conn: Conn, batch: list[Accept]) -> list[bool]:
        """Debit, then insert every row of the paid messages; which ones were refused."""
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
            await self._insert_messages(conn, kept)
            await conn.execute(_RECIPIENTS, *_recipient_columns(kept))
            await conn.execute(
                _LEDGER,
                [i.message.account_id for i in kept],
                [i.message.created_at for i in kept],
                [-i.message.cost for i in kept],
                [i.msgid for i in kept],
            )
            await conn.execute("SELECT pg_notify($1, '')", WORK_CHANNEL)
        return refused

    async def _insert_messages(self, conn: Conn, items: list[Accept]) -> None:
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
                    item.msgid = self._draw()
                    again.append(item)
            if not again:
                return
            pending = again
        raise StoreError("no free msgid found")


def _message_columns(items: list[Accept]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(10)]
    for item in items:
        m = item.message
        row = (
            item.msgid,
            m.account_id,
            m.created_at,
            m.sender,
            m.sender_type,
            m.text,
            m.flash,
            m.callback,
            len(m.recipients),
            m.cost,
        )
        for column, value in zip(columns, row, strict=True):
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
