"""The dispatcher: claim due recipients, route them, submit within the windows, record.

Decisions are made by pure policies (`core.routing.choose`, `core.retry.RetryPolicy`,
`smpp.status.classify`); this module only applies them:

- operator accepted (status 0) → submitted, with the operator's id;
- temporary refusal (throttling, queue full, system error, ...), timeout or lost
  connection → queued again after the retry policy's delay (a timeout or a lost
  connection may have reached the operator: at-least-once); past the policy's limits
  → failed and refunded;
- permanent refusal → failed and refunded (no operator took it);
- no rule matches the number → failed and refunded; rules match but no connector is
  up → the claim is released and the message waits: it is not due again for
  `wait_hold` seconds, so recipients stuck behind a dead route never starve the others
  (claims take the longest-due first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from passerelle.core.receipts import normalise_id
from passerelle.core.retry import RetryPolicy
from passerelle.core.routing import Route, RouteOutcome, choose
from passerelle.core.values import DueRecipient
from passerelle.delivery.link import Link, SubmitResult, describe
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.outbound import submit_sm
from passerelle.service_workers import Operations
from passerelle.smpp.status import StatusClass, classify
from passerelle.tasks import Tracked

log = logging.getLogger("passerelle.dispatcher")

AHEAD = 2  # recipients claimed per window slot: one in flight, one ready
RECORDING_AHEAD = 8  # answered submits whose outcome awaits its commit, per window slot


class Links(Protocol):
    """What the dispatcher needs from the supervisor."""

    def routes(self) -> Sequence[Route]:
        """The routing rules in the order they are tried."""

    def get(self, name: str) -> Link | None:
        """The running link of a connector."""

    def healthy(self, name: str) -> bool:
        """True when that connector can take a submit now."""

    def capacity(self) -> int:
        """The windows of the healthy links, added up."""


class Dispatcher:
    """Moves recipients from the outbox to operators."""

    def __init__(
        self,
        service: Operations,
        links: Links,
        metrics: DeliveryMetrics,
        policy: RetryPolicy | None = None,
        lease: float = 60.0,
        batch: int = 500,
        poll: float = 0.1,
        wait_hold: float = 1.0,
        clock: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.service = service
        self.links = links
        self.metrics = metrics
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.batch = batch
        self.poll = poll
        self.wait_hold = wait_hold
        self.clock = clock or service.clock  # the database's clock
        self.rng = rng
        self.wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks = Tracked(log, "submit task")
        self._recording = 0  # submits answered, their outcome not yet committed
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    def notify(self) -> None:
        """Look for work now (the store signals accepted messages by itself)."""
        self.wakeup.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let submits in flight finish (bounded by `grace`)."""
        self._stop.set()
        self.wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._tasks.drain(grace)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                idle = await self.step()
            except Exception:
                log.exception("dispatcher step failed; retrying")
                idle = True
            if idle:
                await self._sleep(self.poll)

    async def _sleep(self, seconds: float) -> None:
        """Until new work is queued (the store's signal), `notify` or `seconds`."""
        self.wakeup.clear()
        waits = {
            asyncio.ensure_future(self.wakeup.wait()),
            asyncio.ensure_future(self.service.wait_for_work(seconds)),
        }
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def step(self) -> bool:
        """Claim and dispatch one batch; True when there was nothing to do."""
        # Submits awaiting their answer count against the windows (claiming up to twice
        # the windows keeps the next submits ready when slots free); answered ones whose
        # outcome is being committed do not, up to RECORDING_AHEAD per slot (a slow
        # database then holds the claims back).
        capacity = self.links.capacity()
        room = AHEAD * capacity - (len(self._tasks) - self._recording)
        if self._recording >= RECORDING_AHEAD * capacity:
            room = 0
        if room <= 0:
            await self._tasks.wait_freed(self.poll)
            return False
        now = self.clock()
        due = await self.service.claim_recipients(now, self.lease, min(room, self.batch))
        self.metrics.claims.inc()
        self.metrics.claimed.inc(len(due))
        if not due:
            return True
        routes = self.links.routes()
        waiting: list[int] = []
        for recipient in due:
            decision = choose(routes, recipient.dest, self.links.healthy)
            link = self.links.get(decision.connector or "")
            if decision.outcome is RouteOutcome.SUBMIT and link is not None:
                self._tasks.spawn(self._submit(link, recipient))
            elif decision.outcome is RouteOutcome.NO_ROUTE:
                self.metrics.submits.labels("no_route").inc()
                await self.service.record_failed(recipient.id, "no route", now, recipient.claim)
            else:
                waiting.append(recipient.id)
        if waiting:
            # one claim for the whole batch: its lease end identifies it
            await self.service.release(waiting, now + self.wait_hold, due[0].claim)
            return True  # nothing is up for them: back off before claiming again
        return False

    async def _submit(self, link: Link, recipient: DueRecipient) -> None:
        if recipient.reclaimed:
            self.metrics.resends.inc()
        started = time.perf_counter()
        result = await link.submit(submit_sm(recipient, link.connector))
        # answered: its window slot is free while its outcome is being committed
        self._recording += 1
        self._tasks.notify_freed()
        try:
            now = self.clock()
            if result.status == 0:
                self.metrics.submit_latency.observe(time.perf_counter() - started)
                self.metrics.submits.labels("ok").inc()
                smsc_id = normalise_id(result.message_id or "")
                await self.service.record_submitted(recipient.id, link.name, smsc_id, now)
                return
            await self._failed(recipient, result, now)
        finally:
            self._recording -= 1

    async def _failed(self, recipient: DueRecipient, result: SubmitResult, now: float) -> None:
        err = describe(result)
        if result.status is None:
            kind = "timeout" if result.error == "timeout" else "lost"
            permanent = False
        else:
            permanent = classify(result.status) is StatusClass.PERMANENT
            kind = "permanent" if permanent else "temporary"
        self.metrics.submits.labels(kind).inc()
        if not permanent:
            attempt = recipient.attempts + 1
            at = self.policy.next_attempt(attempt, recipient.created_at, now, self.rng())
            if at is not None:
                await self.service.record_retry(recipient.id, at, err, recipient.claim)
                return
            self.metrics.submits.labels("gave_up").inc()
        log.info(
            "recipient failed", extra={"msgid": recipient.msgid, "dest": recipient.dest, "err": err}
        )
        await self.service.record_failed(recipient.id, err, now, recipient.claim)
