"""The receipt deadline job: submitted recipients whose receipt never came become final.

It runs in the delivery role (the process that runs the dispatcher): every
`core.deadline.check_every(deadline)` seconds (a minute at the 72 h default), it asks
the service to expire the overdue recipients (`Operations.expire_overdue`: EXPIRED,
``no-receipt``, `statut` 2, one callback event when asked for, no refund), `BATCH` per
transaction with a short pause between transactions, so accepts and receipts are never
held up for long, until a batch comes back short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from passerelle.core.deadline import check_every
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.service_workers import Operations
from passerelle.tasks import Background

log = logging.getLogger("passerelle.deadline")

BATCH = 500  # recipients per transaction
PAUSE_S = 0.01  # between two transactions


class DeadlineJob(Background):
    """Expires overdue recipients in the background (`run_once` does one pass)."""

    name = "receipt-deadline"

    def __init__(
        self,
        service: Operations,
        deadline: float,
        metrics: DeliveryMetrics,
        clock: Callable[[], float] | None = None,
        batch: int = BATCH,
        pause: float = PAUSE_S,
    ) -> None:
        self.service = service
        self.deadline = deadline
        self.metrics = metrics
        self.clock = clock or service.clock  # the database's clock
        self.batch = batch
        self.pause = pause
        self.every = check_every(deadline)

    async def run_once(self) -> int:
        """Expire every recipient overdue at the clock's now, batch by batch; how many."""
        now = self.clock()
        total = 0
        while True:
            expired = await self.service.expire_overdue(now, self.deadline, self.batch)
            total += expired
            if expired < self.batch:
                break
            await asyncio.sleep(self.pause)
        if total:
            self.metrics.expired.inc(total)
            log.warning(
                "recipients expired without a receipt",
                extra={"expired": total, "deadline_s": self.deadline},
            )
        return total

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.run_once()
            except Exception:
                log.exception("receipt deadline pass failed; trying again later")
