"""Retry policy: exponential backoff with equal jitter (pure: the caller passes jitter
and clock).

Used for temporary submit failures (the dispatcher), callbacks (the sender) and SMPP
reconnects (`delivery.link`). The delay before attempt ``n + 1`` is
``base * factor ** (n - 1)`` capped at `max_delay`, then drawn between half and all of
it ("equal jitter": ``raw * (0.5 + 0.5 * jitter)``), until `max_attempts` or until the
work is older than `horizon` seconds; then a recipient fails (and is refunded, since no
operator accepted it) and a callback event is marked failed.

Equal rather than full jitter (``raw * jitter``, anywhere from 0): a peer that refuses
us (an SMSC refusing binds, a receiver answering 503) should never be tried again at
once, and half the delay is still enough spread to keep many retries from landing
together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again after a temporary failure."""

    base: float = 2.0
    factor: float = 2.0
    max_delay: float = 300.0
    max_attempts: int = 30
    horizon: float = 48 * 3600.0

    def delay(self, attempt: int, jitter: float) -> float:
        """Seconds before attempt `attempt + 1`; `jitter` in [0, 1) spreads retries."""
        raw = min(self.max_delay, self.base * self.factor ** max(0, attempt - 1))
        return raw * (0.5 + 0.5 * jitter)

    def next_attempt(
        self, attempt: int, created_at: float, now: float, jitter: float
    ) -> float | None:
        """The time of the next attempt after failed attempt `attempt`, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        at = now + self.delay(attempt, jitter)
        if at - created_at > self.horizon:
            return None
        return at
