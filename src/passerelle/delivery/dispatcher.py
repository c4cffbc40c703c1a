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

Claims are batched apart from the windows. The dispatcher keeps a look-ahead of
claimed recipients, `max(AHEAD * capacity, min(CLAIM_FLOOR, batch))`: the submits
awaiting their answer (at most `AHEAD` per window slot, each a task waiting for its
slot or its answer) and, behind them, the claimed recipients not yet handed to a link
(`_ready`, oldest due first). It claims again only once half of the look-ahead (or a
whole `batch`) is free, so a small window (Kannel's 10) still claims in runs of 32 or
more instead of one or two per freed slot, while about a window's worth of submits is
still held when the claim starts; after a claim that found fewer than it asked for,
the next waits for `poll`, a `notify` or the look-ahead to empty. Claimed recipients
are routed when claimed (those that must wait or can never be routed are settled at
once, so they are not held from other processes) and again when handed to a link.
Those still waiting are given back (`release`, only while their claim holds them) when
no link of this process is up, when half of their lease has passed, and when the
dispatcher stops; a claim lost to a crash ends with its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from passerelle.core.receipts import normalise_id
from passerelle.core.retry import RetryPolicy
from passerelle.core.routing import Route, RouteOutcome, choose
from passerelle.core.values import DueRecipient
from passerelle.delivery.link import CLAIM_ENDING, Link, SubmitResult, describe
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.outbound import submit_sm
from passerelle.service_workers import Operations
from passerelle.smpp.status import StatusClass, classify
from passerelle.tasks import Tracked

log = logging.getLogger("passerelle.dispatcher")

AHEAD = 2  # submits started per window slot: one in flight, one waiting for the slot
CLAIM_FLOOR = 64  # the look-ahead of claimed recipients holds at least this many
RECORDING_AHEAD = 8  # answered submits whose outcome awaits its commit, per window slot
STOP_STEP_S = 1.0  # at least this long for the current step to finish at `stop`
CLAIM_MARGIN = 0.25  # of the lease: a submit not written with this much of it left waits


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
        self._ready: deque[DueRecipient] = deque()  # claimed, not yet handed to a link
        self._quiet_until = 0.0  # the last claim found the queue empty: not before then
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    def notify(self) -> None:
        """Look for work now (the store signals accepted messages by itself)."""
        self.wakeup.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, release the claimed recipients not handed to a link, and let
        the submits started finish (bounded by `grace`)."""
        self._stop.set()
        self.wakeup.set()
        if self._task is not None:
            # not cancelled at once: a claim in flight is committed whatever we do, so
            # its step finishes and files what it claimed (then given back below)
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, max(grace, STOP_STEP_S))
        try:
            await self._give_back(list(self._ready))
        except Exception:
            log.exception("cannot release the claimed recipients; their lease will end")
        self._ready.clear()
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

    @property
    def ready(self) -> int:
        """Claimed recipients not yet handed to a link."""
        return len(self._ready)

    async def step(self) -> bool:
        """Claim when half of the look-ahead is free, hand the claimed recipients to the
        links as window slots free; True when there was nothing to do."""
        # Submits awaiting their answer count against the windows (up to AHEAD per slot
        # keeps the next submits ready when slots free); answered ones whose outcome is
        # being committed do not, up to RECORDING_AHEAD per slot (a slow database then
        # holds the claims and the submits back).
        capacity = self.links.capacity()
        if capacity == 0 or self._recording >= RECORDING_AHEAD * capacity:
            if capacity == 0 and self._ready:
                # nothing is up here: another process may have a link for them
                await self._give_back(list(self._ready))
                self._ready.clear()
            await self._tasks.wait_freed(self.poll)
            return False
        now = self.clock()
        started = len(self._tasks) - self._recording
        ahead = max(AHEAD * capacity, min(CLAIM_FLOOR, self.batch))
        free = ahead - started - len(self._ready)
        # after a claim that found fewer than it asked for, the next waits for `poll`,
        # `notify` or the claimed recipients all handed over (as an idle step would)
        if (2 * free >= ahead or free >= self.batch) and (
            not self._ready or now >= self._quiet_until or self.wakeup.is_set()
        ):
            limit = min(free, self.batch)
            self.wakeup.clear()  # this claim answers the `notify`
            due = await self.service.claim_recipients(now, self.lease, limit)
            self.metrics.claims.inc()
            self.metrics.claimed.inc(len(due))
            self._quiet_until = now + self.poll if len(due) < limit else 0.0
            await self._route(due, now, submit=False)
            if not self._ready:
                return True  # nothing due, or nothing up for it: back off
        room = AHEAD * capacity - started
        if room <= 0 or not self._ready:
            await self._tasks.wait_freed(self.poll)
            return False
        batch: list[DueRecipient] = []
        stale: list[DueRecipient] = []
        while self._ready and len(batch) < room:
            recipient = self._ready.popleft()
            # half of its lease has passed (links slower than the look-ahead): give it
            # back rather than submit it close to the end of its claim
            (stale if recipient.claim - now < self.lease / 2 else batch).append(recipient)
        await self._route(batch, now, submit=True)
        await self._give_back(stale)
        return False

    async def _route(self, due: Sequence[DueRecipient], now: float, submit: bool) -> None:
        """Route `due`: when `submit`, start the submits; otherwise keep the routable
        ones in `_ready`. No rule matches: failed; no connector up: released until
        `now + wait_hold`."""
        routes = self.links.routes()
        unroutable: list[DueRecipient] = []
        waiting: list[DueRecipient] = []
        for recipient in due:  # no await in this loop: `stop` finds each one somewhere
            decision = choose(routes, recipient.dest, self.links.healthy)
            link = self.links.get(decision.connector or "")
            if decision.outcome is RouteOutcome.SUBMIT and link is not None:
                if submit:
                    self._tasks.spawn(self._submit(link, recipient))
                else:
                    self._ready.append(recipient)
            elif decision.outcome is RouteOutcome.NO_ROUTE:
                unroutable.append(recipient)
            else:
                waiting.append(recipient)
        for recipient in unroutable:
            self.metrics.submits.labels("no_route").inc()
            await self.service.record_failed(recipient.id, "no route", now, recipient.claim)
        await self._give_back(waiting, now + self.wait_hold)

    async def _give_back(
        self, recipients: Iterable[DueRecipient], not_before: float | None = None
    ) -> None:
        """Release the claims on `recipients` (each only while its claim holds it), not
        due again before `not_before`: one statement per claim."""
        by_claim: dict[float, list[int]] = {}
        for recipient in recipients:
            by_claim.setdefault(recipient.claim, []).append(recipient.id)
        for claim, ids in by_claim.items():
            await self.service.release(ids, not_before, claim)

    async def _submit(self, link: Link, recipient: DueRecipient) -> None:
        if recipient.reclaimed:
            self.metrics.resends.inc()
        started = time.perf_counter()
        # written only while the claim still has a margin (the time to answer and record
        # it): past that, another process may claim it again and send it too
        left = recipient.claim - self.clock() - CLAIM_MARGIN * self.lease
        result = await link.submit(submit_sm(recipient, link.connector), link.clock() + left)
        # answered: its window slot is free while its outcome is being committed
        self._recording += 1
        self._tasks.notify_freed()
        try:
            if result.error == CLAIM_ENDING:
                await self._give_back([recipient])  # not sent: due again, no attempt counted
                return
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
