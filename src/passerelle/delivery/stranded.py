"""Recipients with no usable route: counted, exported, logged, and told to `/readyz`.

What the dispatcher does with a recipient depends on the rules matching its number:

- no rule matches → it fails at once and is refunded (`err` = ``no route``): it does not
  stay queued, so it is not counted here;
- rules match but no connector they name is bound (the connector was never stored, is
  disabled, or its link is down) → it *waits*, queued, until one binds. Nothing else
  will move it: this is the state an operator must hear about.

The supervisor re-reads connectors and routes every refresh; `check_routes` then says,
from the rules and the links alone, which rules have no bound connector. Only when
one has does `StrandedWatch` ask the service for a count (queued numbers matching such a
rule and no usable one); `/readyz` reads the last count, never the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from prometheus_client import Gauge

from passerelle.core.routing import Route
from passerelle.service_workers import Operations

log = logging.getLogger("passerelle.routes")

REMIND_S = 300.0  # while it lasts, the warning is repeated this often


@dataclass(frozen=True, slots=True)
class RouteCheck:
    """The rules against the links: prefixes of every rule, of the rules a bound connector
    serves, and a description of each rule that nothing serves."""

    prefixes: tuple[str, ...]
    usable: tuple[str, ...]
    dead: tuple[str, ...]


def check_routes(
    routes: Sequence[Route],
    bound: Callable[[str], bool],
    stored: Collection[str],
    enabled: Collection[str],
) -> RouteCheck:
    """Which rules can hand a number to a bound connector now, and why the others cannot."""
    usable: list[str] = []
    dead: list[str] = []
    for route in routes:
        if any(bound(name) for name in route.connectors):
            usable.append(route.prefix)
            continue
        why = [_why(name, stored, enabled) for name in route.connectors] or ["no connector"]
        target = ", ".join(route.connectors) or "nothing"
        dead.append(f"{route.prefix or 'default'} → {target} ({'; '.join(why)})")
    return RouteCheck(tuple(r.prefix for r in routes), tuple(usable), tuple(dead))


def _why(name: str, stored: Collection[str], enabled: Collection[str]) -> str:
    if name not in stored:
        return f"{name} is not a connector"
    if name not in enabled:
        return f"{name} is disabled"
    return f"{name} is not bound"


class StrandedWatch:
    """The count of queued recipients with no usable route, its gauge and its warnings."""

    def __init__(
        self, service: Operations, gauge: Gauge, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.service = service
        self.gauge = gauge
        self.clock = clock
        self.count = 0
        self.dead: tuple[str, ...] = ()
        self._warned: tuple[str, ...] | None = None
        self._warned_at = 0.0

    @property
    def reason(self) -> str | None:
        """The `/readyz` line while recipients are stranded, else None."""
        if not self.count:
            return None
        return f"no usable route for {self.count} queued recipients: {'; '.join(self.dead)}"

    async def update(self, check: RouteCheck) -> None:
        """Count again (a query only when some rule has no bound connector)."""
        count = 0
        if check.dead:
            count = await self.service.count_queued(check.prefixes, check.usable)
        previous = self.dead
        self.count, self.dead = count, check.dead if count else ()
        self.gauge.set(count)
        self._log(previous)

    def _log(self, previous: tuple[str, ...]) -> None:
        """Warn when the same rules strand recipients at two counts in a row (a link that
        is reconnecting is not worth a warning), again every REMIND_S while it lasts, and
        say when it is over."""
        now = self.clock()
        if not self.count:
            if self._warned is not None:
                log.info("every queued recipient has a usable route again")
                self._warned = None
            return
        if self.dead != previous:
            return
        if self._warned == self.dead and now - self._warned_at < REMIND_S:
            return
        self._warned, self._warned_at = self.dead, now
        log.warning(
            "%s queued recipients have no usable route: they wait until a connector their "
            "route names is bound (%s)",
            self.count,
            "; ".join(self.dead),
            extra={"unroutable": self.count},
        )
