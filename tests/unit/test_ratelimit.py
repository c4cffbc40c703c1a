"""Rate-limit policies with a controlled clock."""

from __future__ import annotations

import pytest

from passerelle.core.ratelimit import (
    AttemptDecision,
    Counter,
    LoginPolicy,
    RequestLimiter,
    decide_attempt,
    uncount,
)

POLICY = LoginPolicy(per_login=3, per_address=5, window=60.0)


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


@pytest.mark.parametrize(
    ("login", "address", "known", "allowed", "until", "by_address"),
    [
        (None, None, False, True, 0.0, False),  # first attempt
        (Counter(0, 2), Counter(0, 4), False, True, 0.0, False),  # last ones of each
        (Counter(0, 3), Counter(0, 0), False, False, 60.0, False),  # login used up
        (Counter(0, 3), Counter(0, 0), True, True, 0.0, False),  # ... not for its known address
        (Counter(0, 0), Counter(10, 5), False, False, 70.0, True),  # address used up
        (Counter(0, 3), Counter(10, 5), True, False, 70.0, True),  # known: address limit holds
        (Counter(-60, 3), Counter(-61, 5), False, True, 0.0, False),  # windows over: new ones
    ],
)
def test_attempt_decisions(
    login: Counter | None,
    address: Counter | None,
    known: bool,
    allowed: bool,
    until: float,
    by_address: bool,
) -> None:
    """Every verification is counted before it runs; a used-up window refuses until it ends."""
    decision = decide_attempt(login, address, known, 0.0, POLICY)
    assert decision.allowed is allowed
    assert decision.blocked_until == until
    assert decision.by_address is by_address
    if allowed:
        before_login = login.count if login and login.start > -60 else 0
        before_address = address.count if address and address.start > -60 else 0
        assert decision.login.count == before_login + 1
        assert decision.address.count == before_address + 1


def test_zero_limits_never_refuse() -> None:
    """A limit of 0 is off."""
    policy = LoginPolicy(per_login=0, per_address=0, window=60.0)
    assert decide_attempt(Counter(0, 10**6), Counter(0, 10**6), False, 1.0, policy).allowed


def test_the_last_allowed_failure_announces_the_refusal() -> None:
    """After the failure that uses up a window, the next attempt is known to be refused."""
    third = decide_attempt(Counter(0, 2), Counter(0, 2), False, 5.0, POLICY)
    assert third.refusal_after_failure(POLICY) == (60.0, False)
    assert (
        AttemptDecision(True, Counter(0, 3), Counter(0, 1), known=True).refusal_after_failure(
            POLICY
        )
        is None
    )
    fifth = decide_attempt(Counter(0, 0), Counter(1, 4), False, 5.0, POLICY)
    assert fifth.refusal_after_failure(POLICY) == (61.0, True)


def test_a_success_takes_its_count_back() -> None:
    """uncount removes one counted attempt, never below zero."""
    assert uncount(Counter(5, 2)) == Counter(5, 1)
    assert uncount(Counter(5, 0)) == Counter(5, 0)
    assert uncount(None) is None
