"""Background work: `Tracked` tasks and `Background` loops.

`Tracked`: tasks counted, logged when they fail, and drained at shutdown; the dispatcher
(one task per submit), the callback sender (one per request) and the receipt handler
(one per incoming PDU) share this bookkeeping. `Background`: the one long-running loop
of a periodic worker (the receipt deadline, the retention purge, the mail sender),
started and stopped with its process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any


class Tracked:
    """A set of running tasks, with an event set each time one finishes."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` in the background."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._freed.set()
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s failed", self._what, exc_info=task.exception())

    def notify_freed(self) -> None:
        """Wake `wait_freed` as if a task had finished (a task gave back what it held)."""
        self._freed.set()

    async def wait_freed(self, within: float) -> None:
        """Return when a task finishes, or after `within` seconds."""
        self._freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._freed.wait(), within)

    async def drain(self, grace: float) -> None:
        """Wait for the running tasks, at most `grace` seconds."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)

    async def cancel(self) -> None:
        """Cancel the tasks still running and wait until they have ended."""
        running = set(self._tasks)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)


class Background:
    """A worker's long-running loop (`_run`), started and stopped with its process.

    Stopping cancels the loop: work in progress stops at its next await, which each
    worker places between two transactions (each is atomic)."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run `_run` in the background (call from the running event loop)."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
