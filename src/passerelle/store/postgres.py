"""PostgreSQL backend: one database shared by every process, on any number of machines.

Connections come from an asyncpg pool. Accepted messages go through the group-commit
batcher (`postgres_batch.py`); the other writes are short transactions of their own,
and reads are single statements. Workers claim rows with `FOR UPDATE SKIP LOCKED`, so
any number of processes share the outbox without a broker.

Three things make the processes of a cluster agree:
- **the database's clock**: `clock()` is this host's clock corrected by the offset
  to the server's `clock_timestamp()`, measured at open and every minute (half the
  round trip is the error), so leases and due times mean the same everywhere;
- **wait for work**: the accept batch sends `NOTIFY passerelle_work` in its
  transaction (delivered at commit), and a transition that queues a callback event
  `NOTIFY passerelle_callbacks`; every process LISTENs on a connection of its own and
  wakes its dispatcher or its callback sender, so idle workers only look for work
  that became due by time (retries, ended leases) once a second;
- **connector ownership**: leases in `connector_owners` (`postgres_owners.py`).

Submit outcomes and receipts are written in runs too (`postgres_runs.py`). The role
mixins: accounts (`postgres_accounts.py`), delivery (`postgres_delivery.py`),
receipt deadline (`postgres_expiry.py`), callbacks (`postgres_callbacks.py`), routes
(`postgres_routes.py`), ownership (`postgres_owners.py`), login counters
(`postgres_logins.py`), request-rate windows (`postgres_requests.py`), retention
(`postgres_retention.py`), the e-mail outbox (`postgres_mail.py`), the web console
(`postgres_console.py`), contacts and groups (`postgres_directory.py`), API keys
(`postgres_keys.py`), Idempotency-Keys (`postgres_idempotency.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

from passerelle.core.states import RecipientState
from passerelle.core.values import MessageSummary, NewMessage, RecipientStatus
from passerelle.exceptions import StoreError
from passerelle.store.location import safe_url
from passerelle.store.msgids import MsgidSource
from passerelle.store.postgres_accounts import PgAccounts
from passerelle.store.postgres_batch import WORK_CHANNEL, Accept, RunBatcher, accept_run
from passerelle.store.postgres_callbacks import PgCallbacks
from passerelle.store.postgres_changes import CALLBACK_CHANNEL
from passerelle.store.postgres_console import PgConsole
from passerelle.store.postgres_delivery import PgDelivery
from passerelle.store.postgres_directory import PgDirectory
from passerelle.store.postgres_expiry import PgExpiry
from passerelle.store.postgres_idempotency import PgIdempotency
from passerelle.store.postgres_keys import PgKeys
from passerelle.store.postgres_logins import PgLogins
from passerelle.store.postgres_mail import PgMail
from passerelle.store.postgres_owners import PgOwners
from passerelle.store.postgres_requests import PgRequests
from passerelle.store.postgres_retention import PgRetention
from passerelle.store.postgres_routes import PgRoutes
from passerelle.store.postgres_runs import receipts_run, submitted_run
from passerelle.store.signal import WorkSignal

log = logging.getLogger("passerelle.store")

CLOCK_EVERY_S = 60.0
# asyncpg prepares every statement; after five runs PostgreSQL may keep a generic plan,
# made when the tables were small (a new database: sequential scans), for the
# connection's whole life. Planned at each run, a statement follows the tables' growth.
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
RELISTEN_S = 5.0
_CLOCK_SQL = "SELECT extract(epoch FROM clock_timestamp())::float8"


class PgStore(
    PgAccounts,
    PgDelivery,
    PgExpiry,
    PgCallbacks,
    PgRoutes,
    PgOwners,
    PgLogins,
    PgRequests,
    PgRetention,
    PgMail,
    PgConsole,
    PgDirectory,
    PgKeys,
    PgIdempotency,
):
    """The scale-out store: PostgreSQL through asyncpg."""

    def __init__(self, url: str, max_batch: int = 512, pool_size: int = 10) -> None:
        self.url = url
        self._max_batch = max_batch
        self._pool_size = pool_size
        self._pool_: asyncpg.Pool | None = None
        self._batcher: RunBatcher[Accept, int] | None = None
        self._listener: asyncpg.Connection | None = None
        self._offset = 0.0
        self._clock_task: asyncio.Task[None] | None = None
        self._msgids = MsgidSource()
        self._work = WorkSignal()
        self._callback_work = WorkSignal()

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Connect the pool and the listener, measure the clock, start the batcher."""
        try:
            self._pool_ = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=60,
                server_settings=SERVER_SETTINGS,
            )
            await self._listen()
            await self._measure_clock()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await self.close()
            raise StoreError(f"cannot open the database {safe_url(self.url)}: {error}") from None
        self._batcher = RunBatcher(self._pool_, accept_run(self._msgids.draw), self._max_batch)
        self._batcher.start()
        self._submits = RunBatcher(self._pool_, submitted_run, self._max_batch)
        self._submits.start()
        self._receipts = RunBatcher(self._pool_, receipts_run, self._max_batch)
        self._receipts.start()
        self._clock_task = asyncio.get_running_loop().create_task(self._keep_clock())

    async def close(self) -> None:
        """Write what is queued, then disconnect."""
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = None
        for run in (self._submits, self._receipts):
            if run is not None:
                await run.stop()
        self._submits = self._receipts = None
        if self._batcher is not None:
            await self._batcher.stop()
            self._batcher = None
        if self._listener is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._listener.close(timeout=5)
            self._listener = None
        if self._pool_ is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.wait_for(self._pool_.close(), 10)
            self._pool_ = None

    async def ping(self) -> bool:
        try:
            await self._pool.fetchval("SELECT 1")
        except (OSError, StoreError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    def clock(self) -> float:
        """The database server's clock: this host's, corrected by the measured offset."""
        return time.time() + self._offset

    @property
    def batcher(self) -> RunBatcher[Accept, int]:
        """The group-commit writer of accepts."""
        if self._batcher is None:
            raise StoreError("the store is closed")
        return self._batcher

    @property
    def batches(self) -> int:
        """Accept transactions committed since the store opened (a metric)."""
        return self._batcher.batches if self._batcher else 0

    @property
    def operations(self) -> int:
        """Messages accepted in them (a metric)."""
        return self._batcher.operations if self._batcher else 0

    @property
    def _pool(self) -> asyncpg.Pool:
        if self._pool_ is None:
            raise StoreError("the store is closed")
        return self._pool_

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        """A connection in a transaction, committed when the block ends without error."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _measure_clock(self) -> None:
        """The offset to the server's clock, from the fastest of three round trips."""
        conn = self._listener
        if conn is None:
            return
        best: tuple[float, float] | None = None
        for _ in range(3):
            before = time.time()
            server = float(await conn.fetchval(_CLOCK_SQL))
            after = time.time()
            if best is None or after - before < best[0]:
                best = (after - before, server - (before + after) / 2)
        assert best is not None
        self._offset = best[1]

    async def _listen(self) -> None:
        """Connect the listening connection and LISTEN on both channels."""
        self._listener = await asyncpg.connect(self.url)
        await self._listener.add_listener(WORK_CHANNEL, self._on_notify)
        await self._listener.add_listener(CALLBACK_CHANNEL, self._on_callback_notify)

    async def _keep_clock(self) -> None:
        """Measure the clock every `CLOCK_EVERY_S`; listen again within `RELISTEN_S` when
        the listening connection was lost (a database restart: meanwhile the workers
        find new work by their once-a-second look)."""
        measured = time.monotonic()
        while True:
            await asyncio.sleep(RELISTEN_S)
            try:
                if self._listener is None or self._listener.is_closed():
                    await self._listen()
                    self._work.notify()  # what was queued meanwhile
                    self._callback_work.notify()
                    log.info("listening to the database again")
                if time.monotonic() - measured >= CLOCK_EVERY_S:
                    measured = time.monotonic()
                    await self._measure_clock()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("database listener or clock: %s", error)

    def _on_notify(self, *_: Any) -> None:
        self._work.notify()

    def _on_callback_notify(self, *_: Any) -> None:
        self._callback_work.notify()

    async def wait_for_callbacks(self, seconds: float) -> bool:
        return await self._callback_work.wait(seconds)

    # --- the message path ----------------------------------------------------------------

    async def accept_message(self, message: NewMessage) -> int:
        if message.idem_key is not None:  # a transaction of its own (postgres_idempotency)
            msgid = await self.accept_idem(message, message.idem_key)
            self._work.notify()
            return msgid
        msgid = await self.batcher.submit(Accept(message, self._msgids.draw()))
        self._work.notify()
        return msgid

    async def wait_for_work(self, seconds: float) -> bool:
        return await self._work.wait(seconds)

    async def message_states(
        self, account_id: int, msgid: int, dest: str | None = None
    ) -> list[RecipientStatus]:
        sql = (
            "SELECT r.dest, r.state, r.stat, coalesce(r.final_at, r.submitted_at)"
            " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
            " WHERE r.msgid = $1 AND m.account_id = $2"
        )
        args: tuple[Any, ...] = (msgid, account_id)
        if dest is not None:
            sql += " AND r.dest = $3"
            args = (*args, dest)
        rows = await self._pool.fetch(sql + " ORDER BY r.id", *args)
        return [RecipientStatus(r[0], RecipientState(r[1]), r[2], r[3]) for r in rows]

    async def recent_messages(self, account_id: int, limit: int = 10) -> list[MessageSummary]:
        rows = await self._pool.fetch(
            "SELECT msgid, created_at, sender, text, cost FROM messages WHERE account_id = $1"
            " ORDER BY created_at DESC LIMIT $2",
            account_id,
            limit,
        )
        out = []
        for msgid, created_at, sender, text, cost in rows:
            states = await self.message_states(account_id, msgid)
            out.append(MessageSummary(msgid, created_at, sender, text, cost, tuple(states)))
        return out

    async def count_messages(self, account_id: int) -> int:
        count = await self._pool.fetchval(
            "SELECT count(*) FROM messages WHERE account_id = $1", account_id
        )
        return int(count)
