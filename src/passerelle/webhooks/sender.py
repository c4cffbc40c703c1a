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
from urllib.parse import urlencode, urlsplit

import aiohttp
from yarl import URL

from passerelle.core.retry import RetryPolicy
from passerelle.core.signature import EVENT_HEADER, HEADER, sign
from passerelle.settings import Settings
from passerelle.store.base import CallbackAttempt, CallbackJob, CallbackOutcome, Store
from passerelle.tasks import Tracked
from passerelle.webhooks import guard
from passerelle.webhooks.metrics import CallbackMetrics

log = logging.getLogger("passerelle.callbacks")

EXPIRY_EVERY_S = 60.0  # events past the horizon are failed this often
GAUGES_EVERY_S = 2.0  # queue depth and oldest age are refreshed this often


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
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


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


def request_of(job: CallbackJob, now: float) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, url, body, headers) of one signed callback."""
    query = urlencode(fields_of(job))
    timestamp = int(now)
    headers = {EVENT_HEADER: str(job.id), "User-Agent": "Passerelle-Callbacks/1"}
    if job.method == "GET":
        base = URL(job.url)  # quoted as yarl quotes it; its own query kept as written
        own = base.raw_query_string
        full = f"{own}&{query}" if own else query
        url = str(base.with_query(None).with_fragment(None)) + "?" + full
        headers[HEADER] = sign(job.secret, timestamp, full.encode())
        return "GET", url, None, headers
    body = query.encode()
    headers[HEADER] = sign(job.secret, timestamp, body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return "POST", job.url, body, headers


class CallbackSender:
    """Drains the callback outbox."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        metrics: CallbackMetrics,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        on_request: Callable[[str, str], None] | None = None,
        poll: float = 0.2,
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.rng = rng
        self.policy = policy_for(settings)
        self.poll = poll
        self._on_request = on_request  # (method, url) just before a request goes out
        self._client: aiohttp.ClientSession | None = None
        self._per_host: dict[str, int] = {}
        # events of a busy receiver waiting for one of its slots, with their claim time
        self._waiting: dict[str, deque[tuple[CallbackJob, float]]] = {}
        self._queued = 0
        self._tasks = Tracked(log, "callback task")
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_expiry = 0.0
        self._last_gauges = 0.0

    def start(self) -> None:
        """Run in the background (call from the running event loop)."""
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.callback_concurrency),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        self._task = asyncio.create_task(self._run(), name="callbacks")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let requests in flight finish (bounded), then close the client."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._tasks.drain(grace)
        if self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = await self.step()
            except Exception:
                log.exception("callback step failed; retrying")
                busy = False
            if not busy:
                await asyncio.sleep(self.poll)

    async def step(self) -> bool:
        """Claim and start one batch; True when it found work."""
        now = self.clock()
        if now - self._last_expiry > EXPIRY_EVERY_S:
            self._last_expiry = now
            await self.store.expire_callbacks(now - self.settings.callback_horizon_s, now)
        if now - self._last_gauges > GAUGES_EVERY_S:
            self._last_gauges = now
            count, oldest = await self.store.callback_backlog()
            self.metrics.pending.set(count)
            self.metrics.oldest.set(now - oldest if oldest is not None else 0)
        room = self.settings.callback_concurrency - len(self._tasks) - self._queued
        if room < max(
            1, min(self.settings.callback_batch, self.settings.callback_concurrency) // 4
        ):
            # claim in batches, not one event per finished callback (one transaction each)
            await self._tasks.wait_freed(self.poll)
            return True
        jobs = await self.store.claim_callbacks(
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
        await self.record(job, attempt)
        self._next_waiting(host)

    def _next_waiting(self, host: str) -> None:
        """Start the next queued event of `host` whose claim still holds; events whose lease
        has lapsed are dropped: they are claimed again (maybe already were)."""
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
        """One attempt: guard, sign, request; never raises."""
        now = self.clock()
        started = time.perf_counter()
        try:
            await guard.check(job.url, self.settings.callback_allow_private)
            method, url, body, headers = request_of(job, now)
            assert self._client is not None
            if self._on_request is not None:
                self._on_request(method, url)
            async with (
                asyncio.timeout(self.settings.callback_timeout_s),
                self._client.request(
                    # encoded=True: the query goes out byte for byte as it was signed
                    method,
                    URL(url, encoded=True),
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                ) as response,
            ):
                await response.read()
            status: int | None = response.status
            error = None if 200 <= response.status < 300 else f"HTTP {status}"
            if 300 <= response.status < 400:
                error = f"HTTP {status}: redirects are not followed"
        except guard.Refused as refused:
            status, error = None, f"refused: {refused}"
        except TimeoutError:
            status, error = None, "timeout"
        except (aiohttp.ClientError, OSError, ValueError) as failure:
            status, error = None, f"{type(failure).__name__}: {failure}"[:500]
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

    async def record(self, job: CallbackJob, attempt: CallbackAttempt) -> None:
        """Store the attempt and its outcome."""
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
        await self.store.finish_callback(job.id, attempt, outcome, next_at)
