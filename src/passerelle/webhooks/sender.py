"""The callback sender: claim due events → guard → signed HTTP request → record attempt.

- POST ``application/x-www-form-urlencoded`` by default, GET with the same query on
  the account's choice; fields ``msgid dest statut stat err date login event_id``;
  headers ``X-Passerelle-Signature`` and ``X-Passerelle-Event-Id`` (`core.signature`).
- Any 2xx is delivered; ``410 Gone`` stops for good; anything else (other statuses,
  redirects, timeouts, refused connections, a URL the SSRF guard refuses) is retried
  with exponential backoff and jitter until the horizon (72 h), then failed.
- Isolation: at most `callback_per_host` requests in flight per receiver (scheme, host
  and port); a few more of its events wait in a short queue (short enough to be sent
  within their lease); the rest of a saturated receiver's events stay claimed and come
  back when their lease ends. A slow or dead receiver never holds up other receivers.
- A whole attempt (connect, send, answer) is bounded by `callback_timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from passerelle.core.retry import RetryPolicy
from passerelle.core.signature import EVENT_HEADER, HEADER, sign
from passerelle.core.values import CallbackAttempt, CallbackJob, CallbackOutcome, CallbackResult
from passerelle.service_workers import Operations
from passerelle.settings import Settings
from passerelle.tasks import Tracked
from passerelle.webhooks import guard
from passerelle.webhooks.client import Client, ProtocolError, Target, target_of
from passerelle.webhooks.metrics import CallbackMetrics

log = logging.getLogger("passerelle.callbacks")

EXPIRY_EVERY_S = 60.0  # events past the horizon are failed this often
GAUGES_EVERY_S = 2.0  # queue depth and oldest age are refreshed this often
BRISK_POLL_S = 0.02  # the claim poll while events keep coming ...
BRISK_FOR_S = 2.0  # ... that is, until this long after the last claim that found some


def pause(poll: float, since_busy: float) -> float:
    """How long to wait after a claim found nothing: briskly while receipts are flowing
    (a callback then lags its receipt by tens of milliseconds, not by a whole `poll`),
    `poll` once the outbox has been quiet for `BRISK_FOR_S` (an idle gateway stays idle)."""
    return min(poll, BRISK_POLL_S) if since_busy < BRISK_FOR_S else poll


def policy_for(settings: Settings) -> RetryPolicy:
    """10 s, doubling, capped at 1 h, jittered, until the horizon (72 h by default)."""
    return RetryPolicy(
        base=10.0,
        factor=2.0,
        max_delay=3600.0,
        max_attempts=10_000,
        horizon=settings.callback_horizon_s,
    )


def origin(url: str) -> str:
    """The receiver a URL belongs to, for the per-receiver limit."""
    try:
        return target_of(url).origin
    except guard.Refused:
        return "invalid:"  # its attempt will record the refusal


def fields_of(job: CallbackJob) -> list[tuple[str, str]]:
    """The callback's fields, in documented order."""
    date = datetime.fromtimestamp(job.occurred_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ("msgid", str(job.msgid)),
        ("dest", job.dest),
        ("statut", str(job.statut)),
        ("stat", job.stat),
        ("err", job.err or ""),
        ("date", date),
        ("login", job.login),
        ("event_id", str(job.id)),
    ]


def request_of(job: CallbackJob, now: float) -> tuple[Target, str, str, bytes | None, str]:
    """(target, method, path and query, body, header lines) of one signed callback.

    GET: the fields follow the URL's own query, and the signature covers that whole
    query string, byte for byte as it goes out. POST: the signature covers the body.
    """
    target = target_of(job.url)
    query = urlencode(fields_of(job))
    timestamp = int(now)
    common = f"{EVENT_HEADER}: {job.id}\r\nUser-Agent: Passerelle-Callbacks/1\r\n"
    if job.method == "GET":
        full = f"{target.query}&{query}" if target.query else query
        signature = sign(job.secret, timestamp, full.encode())
        return target, "GET", f"{target.path}?{full}", None, f"{common}{HEADER}: {signature}\r\n"
    body = query.encode()
    signature = sign(job.secret, timestamp, body)
    path = f"{target.path}?{target.query}" if target.query else target.path
    headers = (
        f"{common}{HEADER}: {signature}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    )
    return target, "POST", path, body, headers


class CallbackSender:
    """Drains the callback outbox."""

    def __init__(
        self,
        service: Operations,
        settings: Settings,
        metrics: CallbackMetrics,
        clock: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
        on_connect: Callable[[str, str], None] | None = None,
        poll: float = 0.2,
    ) -> None:
        self.service = service
        self.settings = settings
        self.metrics = metrics
        self.clock = clock or service.clock  # the database's clock
        self.rng = rng
        self.policy = policy_for(settings)
        self.poll = poll
        self._client = Client(settings.callback_allow_private, on_connect=on_connect)
        self._per_host: dict[str, int] = {}
        # events of a busy receiver waiting for one of its slots, with their claim time
        self._waiting: dict[str, deque[tuple[CallbackJob, float]]] = {}
        self._queued = 0
        self._tasks = Tracked(log, "callback task")
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_expiry = 0.0
        self._last_gauges = 0.0
        self._results: list[CallbackResult] = []  # decided, not yet written
        self._flushing: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background (call from the running event loop)."""
        self._task = asyncio.create_task(self._run(), name="callbacks")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming and starting requests; let those in flight finish (within
        `grace`, the rest are cancelled), write their outcomes, then close the client.
        Events claimed but not sent, or whose outcome was not written, are sent again
        once their lease ends (at least once)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._waiting.clear()
        self._queued = 0
        await self._tasks.drain(grace)
        await self._tasks.cancel()
        if self._flushing is not None:
            await asyncio.wait({self._flushing}, timeout=grace)
        self._client.close()

    async def _run(self) -> None:
        last_busy = -BRISK_FOR_S
        while not self._stop.is_set():
            try:
                busy = await self.step()
            except Exception:
                log.exception("callback step failed; retrying")
                busy = False
            now = time.monotonic()
            if busy:
                last_busy = now
            else:
                await self.service.wait_for_callbacks(pause(self.poll, now - last_busy))

    async def step(self) -> bool:
        """Claim and start one batch; True when it found work."""
        now = self.clock()
        if now - self._last_expiry > EXPIRY_EVERY_S:
            self._last_expiry = now
            await self.service.expire_callbacks(now - self.settings.callback_horizon_s, now)
        if now - self._last_gauges > GAUGES_EVERY_S:
            self._last_gauges = now
            self._client.sweep()
            count, oldest = await self.service.callback_backlog()
            self.metrics.pending.set(count)
            self.metrics.oldest.set(now - oldest if oldest is not None else 0)
        room = self.settings.callback_concurrency - len(self._tasks) - self._queued
        if room < max(
            1, min(self.settings.callback_batch, self.settings.callback_concurrency) // 4
        ):
            # claim in batches, not one event per finished callback (one transaction each)
            await self._tasks.wait_freed(self.poll)
            return True
        jobs = await self.service.claim_callbacks(
            now, self.settings.callback_lease_s, min(room, self.settings.callback_batch)
        )
        for job in jobs:
            host = origin(job.url)
            if self._per_host.get(host, 0) < self.settings.callback_per_host:
                self._launch(job, host)
                continue
            self._waiting.setdefault(host, deque()).append((job, now))
            self._queued += 1
        return bool(jobs)

    def _launch(self, job: CallbackJob, host: str) -> None:
        self._per_host[host] = self._per_host.get(host, 0) + 1
        self._tasks.spawn(self._deliver(job, host))

    async def _deliver(self, job: CallbackJob, host: str) -> None:
        try:
            attempt = await self.send(job)
        finally:
            self._per_host[host] -= 1
        self.record(job, attempt)
        self._next_waiting(host)

    def _next_waiting(self, host: str) -> None:
        """Start the next queued event of `host` whose claim still holds; events whose lease
        has lapsed are dropped: they are claimed again (maybe already were)."""
        if self._stop.is_set():
            return  # stopping: queued events wait for their lease to end
        waiting = self._waiting.get(host)
        latest = self.settings.callback_lease_s
        while waiting and self._per_host.get(host, 0) < self.settings.callback_per_host:
            job, claimed_at = waiting.popleft()
            self._queued -= 1
            if self.clock() - claimed_at < latest:
                self._launch(job, host)
        if waiting is not None and not waiting:
            del self._waiting[host]

    async def send(self, job: CallbackJob) -> CallbackAttempt:
        """One attempt: sign, guard (when a connection opens), request; never raises."""
        now = self.clock()
        started = time.perf_counter()
        try:
            target, method, path, body, headers = request_of(job, now)
            async with asyncio.timeout(self.settings.callback_timeout_s):
                answer = await self._client.request(target, method, path, body, headers)
            status: int | None = answer
            error = None if 200 <= answer < 300 else f"HTTP {answer}"
            if 300 <= answer < 400:
                error = f"HTTP {answer}: redirects are not followed"
        except guard.Refused as refused:
            status, error = None, f"refused: {refused}"
        except TimeoutError:
            status, error = None, "timeout"
        except (ProtocolError, OSError, ValueError) as failure:
            status, error = None, f"{type(failure).__name__}: {failure}"[:500]
        except Exception as failure:  # a bug of ours: logged, and the attempt still counts
            log.exception("callback attempt failed unexpectedly", extra={"event_id": job.id})
            status, error = None, f"internal error: {type(failure).__name__}"
        latency = (time.perf_counter() - started) * 1000
        self.metrics.latency.observe(latency / 1000)
        return CallbackAttempt(now, status, round(latency, 2), error)

    def decide(
        self, job: CallbackJob, attempt: CallbackAttempt
    ) -> tuple[CallbackOutcome, float | None]:
        """The outcome of an attempt (pure apart from the jitter draw)."""
        if attempt.status is not None and 200 <= attempt.status < 300:
            return CallbackOutcome.DELIVERED, None
        if attempt.status == 410:
            return CallbackOutcome.GONE, None
        at = self.policy.next_attempt(job.attempts + 1, job.created_at, attempt.at, self.rng())
        if at is None:
            return CallbackOutcome.FAILED, None
        return CallbackOutcome.RETRY, at

    def record(self, job: CallbackJob, attempt: CallbackAttempt) -> None:
        """Decide the outcome of an attempt and queue it to be recorded.

        Outcomes are written in batches (one transaction for all the attempts that ended
        while the previous batch was being committed). Until its outcome is committed the
        event stays claimed; if the process dies first, the claim lapses and the event is
        sent again (at least once, see docs/callbacks.md)."""
        outcome, next_at = self.decide(job, attempt)
        label = outcome.value
        if attempt.error is not None and attempt.error.startswith("refused"):
            label = "refused"
        self.metrics.attempts.labels(label).inc()
        if outcome is not CallbackOutcome.DELIVERED:
            log.info(
                "callback not delivered",
                extra={
                    "event_id": job.id,
                    "login": job.login,
                    "error": attempt.error,
                    "outcome": outcome.value,
                },
            )
        self._results.append(CallbackResult(job.id, job.claim, attempt, outcome, next_at))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), name="callback results")

    async def _flush(self) -> None:
        """Write queued outcomes until none is left, one transaction per batch."""
        try:
            while self._results:
                batch, self._results = self._results, []
                try:
                    await self.service.finish_callbacks(batch)
                except Exception:
                    # not recorded: the claims lapse and the events are sent again
                    log.exception("recording %d callback outcomes failed", len(batch))
        finally:
            self._flushing = None
