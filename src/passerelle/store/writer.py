"""Group commit: one writer thread applies queued operations in shared transactions.

Each operation is a function of an open sqlite3 connection, run inside the batch's
transaction. Its awaitable resolves only after the transaction that contains it has
committed (with ``synchronous=FULL``, after the fsync), so an answer is never sent
before its write is on disk, and N requests share one fsync.

An operation refuses cleanly by raising an ApiError or AdminError *before* writing
anything; its neighbours are unaffected. Any other exception rolls the whole batch
back, and its operations are then retried one transaction each, so only the faulty
one fails (with StoreError).

Hot operations (message accepts) can be submitted *batched* (`submit_batched`): an
item of data plus a function `apply_many(conn, items)` that writes a whole run of
consecutive items with a few statements (one per table instead of one per item),
and the item's one-operation form. If `apply_many` raises `sqlite3.IntegrityError`
(a random key collided, or a row broke a constraint), the transaction is rolled back
and the batch is redone once, in one transaction, with every item in its one-operation
form; any other exception takes the path above.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from passerelle.exceptions import AdminError, ApiError, StoreError

log = logging.getLogger("passerelle.store")

Operation = Callable[[sqlite3.Connection], Any]
Outcome = tuple[bool, Any]
# writes items in the open transaction; one outcome per item: (True, result) or
# (False, the ApiError/AdminError refusing that item, which wrote nothing)
BatchApply = Callable[[sqlite3.Connection, list[Any]], list[Outcome]]


@dataclass(slots=True)
class _Job:
    op: Operation
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    many: BatchApply | None = None
    item: Any = None


def _settle(jobs: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if job.future.done():
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


class Writer:
    """The single writer thread of one SQLite database."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        max_batch: int,
        lock_path: str | None = None,
    ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._lock_fd: int | None = None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.batches = 0
        self.operations = 0

    def start(self) -> None:
        """Start the thread and open its connection; raise if the database cannot open."""
        self._thread = threading.Thread(target=self._main, name="passerelle-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise StoreError(f"cannot open the database: {self._error}") from self._error

    def stop(self) -> None:
        """Apply every queued operation, then close the connection and end the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def submit(self, op: Operation) -> asyncio.Future[Any]:
        """Queue `op`; the future resolves after the commit that contains it."""
        if self._thread is None:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(op, future, loop))
        return future

    def submit_batched(self, many: BatchApply, item: Any, op: Operation) -> asyncio.Future[Any]:
        """Queue `item`, written by `many` with its neighbours that use the same `many`.

        `op` is the same write as a one-item operation (used when the batch is redone).
        The future resolves after the commit that contains it.
        """
        if self._thread is None:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(op, future, loop, many, item))
        return future

    def _main(self) -> None:
        try:
            if self._lock_path is not None:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            conn = self._connect()
        except BaseException as error:  # reported to start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(conn)
        finally:
            conn.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)

    def _loop(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            outcomes = self._locked_apply(conn, batch)
            self.batches += 1
            self.operations += len(batch)
            by_loop: dict[asyncio.AbstractEventLoop, tuple[list[_Job], list[tuple[bool, Any]]]]
            by_loop = {}
            for job, outcome in zip(batch, outcomes, strict=True):
                jobs, outs = by_loop.setdefault(job.loop, ([], []))
                jobs.append(job)
                outs.append(outcome)
            for loop, (jobs, outs) in by_loop.items():
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_settle, jobs, outs)

    def _locked_apply(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[Outcome]:
        """Apply a batch holding the cross-process write lock, when there is one.

        Several processes (``serve --workers N``, the CLI) may write the same file.
        SQLite's own busy handler waits by sleeping 1, 2, 5 ... 100 ms between tries,
        which turns contention into latency spikes; a blocking ``flock`` on a lock file
        hands the write over as soon as the holder commits (the kernel wakes the waiter).
        """
        if self._lock_fd is None:
            return self._apply(conn, batch)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return self._apply(conn, batch)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _apply(
        self, conn: sqlite3.Connection, batch: list[_Job], batched: bool = True
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            i = 0
            while i < len(batch):
                job = batch[i]
                many = job.many if batched else None
                if many is None:
                    try:
                        outcomes.append((True, job.op(conn)))
                    except (ApiError, AdminError) as refusal:
                        outcomes.append((False, refusal))
                    i += 1
                    continue
                end = i + 1
                while end < len(batch) and batch[end].many == many:
                    end += 1
                outcomes.extend(many(conn, [j.item for j in batch[i:end]]))
                i = end
            conn.execute("COMMIT")
            return outcomes
        except Exception as error:
            self._rollback(conn)
            if (
                batched
                and isinstance(error, sqlite3.IntegrityError)
                and any(job.many is not None for job in batch)
            ):
                return self._apply(conn, batch, batched=False)
            if len(batch) > 1:
                return [self._apply(conn, [job], batched=False)[0] for job in batch]
            log.exception("write failed and was rolled back")
            return [(False, StoreError(str(error)))]

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")
