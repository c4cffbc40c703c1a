"""Rate-limit policies with a controlled clock."""

from __future__ import annotations

from passerelle.core.ratelimit import FailureLimiter, RequestLimiter


def test_token_bucket_refills_at_rate() -> None:
    """A rate of 2/s allows a burst of 2, then one more after 0.5 s."""
    limiter = RequestLimiter()
    assert limiter.allow("a", 2, 0.0) and limiter.allow("a", 2, 0.0)
    assert not limiter.allow("a", 2, 0.1)
    assert limiter.allow("a", 2, 0.6)


def test_zero_rate_is_unlimited() -> None:
    """Rate 0 never refuses."""
    limiter = RequestLimiter()
    assert all(limiter.allow("a", 0, 0.0) for _ in range(1000))


def test_failures_block_until_window_ends() -> None:
    """At `limit` failures the key is blocked for the rest of the window."""
    limiter = FailureLimiter(limit=3, window=60)
    for t in (0, 1, 2):
        assert not limiter.blocked("k", t)
        limiter.record("k", t)
    assert limiter.blocked("k", 30)
    assert not limiter.blocked("k", 61)
    assert not limiter.blocked("other", 30)
