"""Retry policy for temporary submit failures (pure: the caller passes jitter and clock).

Exponential backoff: ``base * factor ** (attempt - 1)`` capped at `max_delay`, with
"full jitter" between half and all of it, until `max_attempts` or until the message is
older than `horizon` seconds; then the recipient fails (and is refunded, since no
operator accepted it).
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
