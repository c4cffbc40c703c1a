"""Waiting for work: the store's signal that something was queued.

The stores set it after the commit that queues work (an accepted message), and a
worker waits on it between claims instead of only polling. In one process it is an
asyncio event; a backend shared by several processes (PostgreSQL) can set it from
LISTEN/NOTIFY as well, and a worker that misses a signal still finds the work at its
next poll.
"""

from __future__ import annotations

import asyncio


class WorkSignal:
    """Set by the store after queuing work; waited on by one worker."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Work was queued (committed)."""
        if self._event is not None:
            self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Until work is queued or `seconds` pass; True when work was queued."""
        if self._event is None:
            self._event = asyncio.Event()
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()
