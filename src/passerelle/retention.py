"""The retention purge (docs/architecture.md): messages older than `PASSERELLE_RETENTION_DAYS`
(180 by default, 0 keeps everything) are deleted with their recipients and callback
events, once they are done (no recipient still queued, no callback still pending); the
ledger is kept. Their msgids become reusable only then. The same job deletes the console
sessions and one-time links that have expired, and the JSON API's answered
Idempotency-Keys older than `IDEMPOTENCY_HORIZON_S` (a client retries a request within
seconds or minutes; a day later the same key sends again).

`purge` deletes in batches of `BATCH` messages, one transaction each, with a short
pause between batches so that accepts and receipts are never held up for long.
`RetentionJob` runs it over the workers' service (`service_workers.Operations`) in
`serve` (worker 0): a minute after start, then every hour.
`passerelle db purge` runs it once by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from passerelle.service_workers import Operations
from passerelle.tasks import Background

log = logging.getLogger("passerelle.retention")

BATCH = 1000  # messages per transaction
PAUSE_S = 0.01  # between two batches
FIRST_RUN_S = 60.0  # after start
EVERY_S = 3600.0
DAY_S = 86400.0
IDEMPOTENCY_HORIZON_S = DAY_S  # how long an Idempotency-Key's answer is replayed


def cutoff_of(now: float, days: int) -> float | None:
    """Messages created before this are purged; None when retention is off (0 days)."""
    return now - days * DAY_S if days > 0 else None


class Purger(Protocol):
    """What `purge` needs: the service's (or, for the service itself, the store's)
    `purge_before`."""

    def purge_before(self, cutoff: float, limit: int) -> Awaitable[int]:
        """Delete up to `limit` finished messages created before `cutoff`; how many."""


async def purge(purger: Purger, cutoff: float, batch: int = BATCH, pause: float = PAUSE_S) -> int:
    """Delete every finished message created before `cutoff`, batch by batch; how many.
    (A batch may be smaller than `batch`: the store also bounds the recipients per
    transaction; the loop ends on a batch that deletes nothing.)"""
    total = 0
    while True:
        purged = await purger.purge_before(cutoff, batch)
        if purged == 0:
            return total
        total += purged
        await asyncio.sleep(pause)


class RetentionJob(Background):
    """Runs `purge` in the background, a minute after start and then every hour."""

    name = "retention"

    def __init__(
        self,
        service: Operations,
        days: int,
        clock: Callable[[], float] | None = None,
        first: float = FIRST_RUN_S,
        every: float = EVERY_S,
    ) -> None:
        self.service = service
        self.days = days
        self.clock = clock or service.clock  # the database's clock
        self.first = first
        self.every = every
        self.purged = 0  # messages purged since start

    def start(self) -> None:
        """Run in the background unless retention is off (0 days)."""
        if self.days > 0:
            super().start()

    async def run_once(self) -> int:
        """One purge at the clock's now (and of the expired console sessions and links,
        and of the Idempotency-Keys past their horizon); how many messages went."""
        await self.service.purge_console(self.clock())
        await self.service.purge_idempotency(self.clock() - IDEMPOTENCY_HORIZON_S)
        cutoff = cutoff_of(self.clock(), self.days)
        if cutoff is None:
            return 0
        purged = await purge(self.service, cutoff)
        self.purged += purged
        if purged:
            log.info("purged old messages", extra={"purged": purged, "days": self.days})
        return purged

    async def _run(self) -> None:
        await asyncio.sleep(self.first)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention purge failed; trying again later")
            await asyncio.sleep(self.every)
