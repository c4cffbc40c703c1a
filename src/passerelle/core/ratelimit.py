"""Rate-limit policies (pure: the caller passes the clock).

- `RequestLimiter`: a token bucket per key (account login): `rate` requests per second
  with a burst of `rate` (at least 1). A rate of 0 means unlimited. It is each
  process's first gate; `request_window` is the second, shared by every process
  through the store (a fixed window counted in the database), so that N processes do
  not allow N times the rate.
- `decide_attempt`: password verifications counted per login and per client address
  in a fixed window, each counted *before* it runs (the store applies it atomically,
  shared by every process); a success takes its count back. An address that succeeded
  for a login lately is not held back by that login's limit.
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


@dataclass(frozen=True, slots=True)
class RequestWindow:
    """The fixed window a request counts in, shared by every process: `limit` requests
    per `key` (the login) in the window that started at `start`."""

    key: str
    start: float
    limit: int


def request_window(key: str, rate: float, now: float) -> RequestWindow:
    """The window of a request at `now` under `rate` requests per second (> 0): one
    second long, or 1/`rate` when the rate is below one, so that `limit` is whole."""
    length = max(1.0, 1.0 / rate)
    return RequestWindow(key, (now // length) * length, max(1, round(rate * length)))


# --- failed-login limits shared by every process (through the store) ------------------


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Limits on password verifications: per login and per client address, in a fixed
    window; 0 disables a limit. An address that logged in successfully as a login within
    `known_s` is not held back by that login's limit (its owner is not locked out by
    someone else's failures); the address limit still applies to it."""

    per_login: int
    per_address: int
    window: float
    known_s: float = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class Counter:
    """Verifications counted for one key since `start`."""

    start: float
    count: int


@dataclass(frozen=True, slots=True)
class AttemptDecision:
    """Whether a verification may start, and the counters as they stand after the
    decision (incremented when it may). When it may not: until when, and whether the
    address (rather than the login) is at its limit."""

    allowed: bool
    login: Counter
    address: Counter
    known: bool = False
    blocked_until: float = 0.0
    by_address: bool = False

    def refusal_after_failure(self, policy: LoginPolicy) -> tuple[float, bool] | None:
        """If the verification this decision allowed fails: (until when, by address?)
        the next one will be refused, or None. Lets a process refuse the next guess
        without asking the store."""
        if policy.per_address > 0 and self.address.count >= policy.per_address:
            return self.address.start + policy.window, True
        if policy.per_login > 0 and self.login.count >= policy.per_login and not self.known:
            return self.login.start + policy.window, False
        return None


def login_key(login: str) -> str:
    """The counter key of a login (logins and addresses share one table of counters)."""
    return "l:" + login


def address_key(address: str) -> str:
    """The counter key of a client address."""
    return "a:" + address


def _current(counter: Counter | None, now: float, window: float) -> Counter:
    if counter is None or now - counter.start >= window:
        return Counter(now, 0)
    return counter


def decide_attempt(
    login: Counter | None,
    address: Counter | None,
    known: bool,
    now: float,
    policy: LoginPolicy,
) -> AttemptDecision:
    """Count a verification *before* it runs: allowed (both counters + 1) unless the
    address, or the login from an address not known to it, has used up its window."""
    lc = _current(login, now, policy.window)
    ac = _current(address, now, policy.window)
    if policy.per_address > 0 and ac.count >= policy.per_address:
        return AttemptDecision(False, lc, ac, known, ac.start + policy.window, by_address=True)
    if policy.per_login > 0 and lc.count >= policy.per_login and not known:
        return AttemptDecision(False, lc, ac, known, lc.start + policy.window)
    return AttemptDecision(
        True, Counter(lc.start, lc.count + 1), Counter(ac.start, ac.count + 1), known
    )


def uncount(counter: Counter | None) -> Counter | None:
    """The counter once a verification it counted has succeeded (it was no failure)."""
    if counter is None or counter.count == 0:
        return counter
    return Counter(counter.start, counter.count - 1)
