"""Rate-limit policies (pure: the caller passes the clock).

- `RequestLimiter`: a token bucket per key (account login): `rate` requests per second
  with a burst of `rate` (at least 1). A rate of 0 means unlimited.
- `FailureLimiter`: failed logins counted per key (login, or client address) in a
  fixed window; at `limit` failures the key is refused until the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_KEYS = 100_000  # bound on remembered keys; the oldest are forgotten first


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class RequestLimiter:
    """Token bucket per key."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def allow(self, key: str, rate: float, now: float) -> bool:
        """Take one token for `key`; False when the bucket is empty."""
        if rate <= 0:
            return True
        bucket = self.buckets.get(key)
        burst = max(rate, 1.0)
        if bucket is None:
            if len(self.buckets) >= MAX_KEYS:
                self.buckets.pop(next(iter(self.buckets)))
            bucket = _Bucket(tokens=burst, stamp=now)
            self.buckets[key] = bucket
        else:
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True


@dataclass(slots=True)
class _Window:
    start: float
    count: int


@dataclass(slots=True)
class FailureLimiter:
    """Failures per key in a fixed window of `window` seconds; `limit` 0 disables."""

    limit: int
    window: float
    windows: dict[str, _Window] = field(default_factory=dict)

    def blocked(self, key: str, now: float) -> bool:
        """True when `key` has reached the limit in its current window."""
        if self.limit <= 0:
            return False
        entry = self.windows.get(key)
        if entry is None:
            return False
        if now - entry.start >= self.window:
            del self.windows[key]
            return False
        return entry.count >= self.limit

    def record(self, key: str, now: float) -> None:
        """Count one failure for `key`."""
        if self.limit <= 0:
            return
        entry = self.windows.get(key)
        if entry is None or now - entry.start >= self.window:
            if entry is None and len(self.windows) >= MAX_KEYS:
                self.windows.pop(next(iter(self.windows)))
            self.windows[key] = _Window(start=now, count=1)
        else:
            entry.count += 1
