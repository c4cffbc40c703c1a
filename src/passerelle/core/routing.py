"""Routing: ordered prefix rules to connectors, with failover (pure, docs/smpp.md).

Rules are tried in `position` order; the first rule whose prefix starts the
destination is used, and its connectors are tried in their order: the first healthy
one wins. When none of a matching rule's connectors is healthy, the next matching rule
is tried (the default route, prefix ``""``, matches every number). The outcome says
whether to submit, to wait (a route exists but nothing is up: keep the message), or to
fail (no rule matches: nothing could ever take it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    """One rule: numbers starting with `prefix` go to `connectors`, first healthy first."""

    position: int
    prefix: str
    connectors: tuple[str, ...]


class RouteOutcome(enum.Enum):
    """What routing decided for one destination."""

    SUBMIT = "submit"
    WAIT = "wait"
    NO_ROUTE = "no-route"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome and, for SUBMIT, the connector."""

    outcome: RouteOutcome
    connector: str | None = None


def rank(route: Route) -> tuple[int, int]:
    """Sort key of the order rules are tried in: position, then longer prefix first."""
    return (route.position, -len(route.prefix))


def ordered(routes: Iterable[Route]) -> list[Route]:
    """Routes in the order they are tried (`rank`)."""
    return sorted(routes, key=rank)


def choose(routes: Sequence[Route], dest: str, healthy: Callable[[str], bool]) -> Decision:
    """Pick a connector for `dest` among `routes` (already `ordered`)."""
    matched = False
    for route in routes:
        if not dest.startswith(route.prefix):
            continue
        matched = True
        for name in route.connectors:
            if healthy(name):
                return Decision(RouteOutcome.SUBMIT, name)
    return Decision(RouteOutcome.WAIT if matched else RouteOutcome.NO_ROUTE)
