"""Routing rules with failover, and the retry policy, with controlled inputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from passerelle.core.retry import RetryPolicy
from passerelle.core.routing import Route, RouteOutcome, choose, ordered

ROUTES = ordered(
    [
        Route(10, "33", ("orange", "sfr")),
        Route(20, "", ("default",)),
        Route(5, "336", ("bouygues",)),
    ]
)


def up(*names: str) -> Callable[[str], bool]:
    return lambda name: name in names


def test_first_matching_rule_in_position_order() -> None:
    """336… goes to the position-5 rule, 331… to the 33 rule, 44… to the default."""
    everything = up("orange", "sfr", "default", "bouygues")
    assert choose(ROUTES, "33612345678", everything).connector == "bouygues"
    assert choose(ROUTES, "33112345678", everything).connector == "orange"
    assert choose(ROUTES, "44712345678", everything).connector == "default"


def test_failover_within_rule_then_next_rule() -> None:
    """A down connector is skipped; a rule with none up falls through to the next match."""
    assert choose(ROUTES, "33112345678", up("sfr", "default")).connector == "sfr"
    assert choose(ROUTES, "33612345678", up("orange")).connector == "orange"
    assert choose(ROUTES, "33612345678", up("default")).connector == "default"


def test_wait_when_matched_but_nothing_up_and_no_route_when_unmatched() -> None:
    """Matched but all down waits; no matching rule at all is NO_ROUTE."""
    assert choose(ROUTES, "33612345678", up()).outcome is RouteOutcome.WAIT
    only_fr = ordered([Route(1, "33", ("orange",))])
    assert choose(only_fr, "44712345678", up("orange")).outcome is RouteOutcome.NO_ROUTE


def test_backoff_grows_caps_and_jitters() -> None:
    """Delays double from the base, stop at the cap, and jitter spans half to all."""
    policy = RetryPolicy(base=2, factor=2, max_delay=60)
    assert [policy.delay(n, 1.0) for n in (1, 2, 3)] == [2, 4, 8]
    assert policy.delay(1, 0.0) == 1.0
    assert policy.delay(50, 0.0) == 30.0


def test_gives_up_after_attempts_or_horizon() -> None:
    """No next attempt past max_attempts or past the horizon."""
    policy = RetryPolicy(base=10, max_attempts=3, horizon=100)
    assert policy.next_attempt(1, created_at=0, now=0, jitter=0) == 5
    assert policy.next_attempt(3, created_at=0, now=0, jitter=0) is None
    assert policy.next_attempt(2, created_at=0, now=95, jitter=0) is None


def test_worker_roles() -> None:
    """Alone, a worker does everything; with several, 0 delivers and purges, 1 sends callbacks."""
    from passerelle.roles import Role
    from passerelle.workers import roles

    assert roles(0, 1) == {Role.API, Role.DELIVERY, Role.CALLBACKS, Role.RETENTION}
    assert [roles(i, 3) for i in range(3)] == [
        {Role.API, Role.DELIVERY, Role.RETENTION},
        {Role.API, Role.CALLBACKS},
        {Role.API},
    ]


def test_worker_roles_respect_settings_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A role runs in its worker only if its setting is on: off in the environment stays off."""
    from passerelle.workers import worker_settings

    monkeypatch.setenv("PASSERELLE_RETENTION", "false")
    monkeypatch.setenv("PASSERELLE_CALLBACKS", "false")
    first, second = worker_settings({}, 0, 2), worker_settings({"port": 0}, 1, 2)
    assert (first.delivery, first.retention, first.callbacks) == (True, False, False)
    assert (second.delivery, second.retention, second.callbacks) == (False, False, False)
    assert second.port == 0
    monkeypatch.delenv("PASSERELLE_CALLBACKS")
    assert worker_settings({}, 1, 2).callbacks is True


def test_roles_chosen_by_name_run_in_every_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --role callbacks` (fixed roles): each worker runs just that, whatever its number."""
    from passerelle.roles import Role, role_settings
    from passerelle.workers import worker_settings

    fixed = {**role_settings(frozenset({Role.CALLBACKS})), "fixed_roles": True}
    for index in range(3):
        settings = worker_settings(fixed, index, 3)
        assert (settings.delivery, settings.callbacks, settings.retention) == (False, True, False)


def test_link_reconnect_delays_come_from_core_retry() -> None:
    """Link reconnects wait 0.25-0.5 s after one failure, doubling, up to 15-30 s."""
    from passerelle.delivery.link import RECONNECT, reconnect_delay

    assert [reconnect_delay(n, 0.0) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]
    assert [reconnect_delay(n, 1.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert reconnect_delay(100, 0.0) == 15.0 and reconnect_delay(100, 1.0) == 30.0
    assert all(reconnect_delay(n, 0.5) == RECONNECT.delay(n, 0.5) for n in range(1, 40))


def test_jitter_is_equal_jitter() -> None:
    """The draw spans half to all of the capped delay, never zero (equal, not full, jitter)."""
    policy = RetryPolicy(base=8, factor=2, max_delay=100)
    for attempt in (1, 3, 10):
        raw = min(100, 8 * 2 ** (attempt - 1))
        assert policy.delay(attempt, 0.0) == raw / 2
        assert policy.delay(attempt, 0.999) < raw
        assert policy.delay(attempt, 0.5) == 0.75 * raw
