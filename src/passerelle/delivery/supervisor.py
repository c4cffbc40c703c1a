"""The supervisor: keeps one running link per enabled connector, and the routes.

Connectors and routes live in the database; the supervisor re-reads them every
`refresh` seconds and starts, stops or restarts links to match, so `passerelle
connector add/remove` and `route add/remove` apply to a running gateway without a
restart. With no connector configured, it starts the built-in simulator (a real SMPP
server on 127.0.0.1, random port) and binds to it: a fresh install sends through the
real SMPP path. With connectors but no route, every enabled connector is tried in
name order for every number. After each refresh it counts the queued recipients that
no bound connector can take (`stranded.py`), for `/readyz`, a gauge and a warning.

Exactly one process binds each connector, whatever runs where: at each refresh the
supervisor renews its heartbeat (`heartbeat`: the live delivery processes), takes its
share of the connectors (`core.ownership.share`: dealt round-robin among the live
processes), claims that share in the database (`claim_connectors`, a lease of
`PASSERELLE_CONNECTOR_LEASE_S` on the database's clock, renewed at each refresh) and
runs links only for those it holds, recording with each claim whether each link is
bound and its window use (`window_use`: submits awaiting their response, out of its
window) for the console. Another process's connectors count as usable for
readiness and routing checks while their owner says they are bound. A process that
stops gives its connectors back at once; one that dies loses them when its lease ends,
and the next refresh of another process takes them over. The built-in simulator is a
connector like the others: only its owner runs it.

The built-in simulator keeps the receipts it still owes in a state file next to the
SQLite file (`builtin_state_file`: ``<db>.simulator.json``), saved every
`BUILTIN_STATE_INTERVAL_S` and at a graceful stop, and sends them after a restart: it
binds with the same connector name and system_id, so the gateway matches their
operator ids to the recipients recorded before the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from passerelle.core.ownership import share
from passerelle.core.routing import Route
from passerelle.core.values import Connector, ConnectorOwner
from passerelle.delivery.link import Link
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.stranded import StrandedWatch, check_routes
from passerelle.service_workers import Operations
from passerelle.settings import Settings

log = logging.getLogger("passerelle.supervisor")

BUILTIN = "builtin-simulator"
RECOUNT_EVERY = 2  # queue depth and stranded counts: at every other refresh
BUILTIN_STATE_INTERVAL_S = 0.1  # a kill -9 loses at most the receipts of this window


def builtin_state_file(database_url: str) -> Path | None:
    """Where the built-in simulator keeps its pending receipts: ``<db>.simulator.json``
    next to the SQLite file; None when the database is not a file (nothing survives)."""
    path = database_url.removeprefix("sqlite:///")
    if path == database_url or path in ("", ":memory:"):
        return None
    return Path(path + ".simulator.json")


class Supervisor:
    """Owns the links; answers the dispatcher's routing questions."""

    def __init__(
        self,
        service: Operations,
        settings: Settings,
        metrics: DeliveryMetrics,
        receipts: ReceiptHandler,
    ) -> None:
        self.service = service
        self.settings = settings
        self.metrics = metrics
        self.receipts = receipts
        self._links: dict[str, Link] = {}
        self._held_until = 0.0  # monotonic end of the leases this process last renewed
        self._routes: list[Route] = []
        self._simulator: object | None = None
        self._builtin: Connector | None = None
        self._task: asyncio.Task[None] | None = None
        self._stored: frozenset[str] = frozenset()
        self._enabled: frozenset[str] = frozenset()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._elsewhere: dict[str, ConnectorOwner] = {}  # connectors other processes bind
        self.stranded = StrandedWatch(service, metrics.unroutable)
        metrics.watch_links(
            lambda: [(n, link.in_flight, link.bound) for n, link in self._links.items()]
        )

    # --- Links protocol -------------------------------------------------------------

    def routes(self) -> Sequence[Route]:
        return self._routes

    def get(self, name: str) -> Link | None:
        return self._links.get(name)

    def healthy(self, name: str) -> bool:
        link = self._links.get(name)
        return link is not None and link.healthy()

    def window_use(self) -> dict[str, tuple[int, int]]:
        """Each running link's submits awaiting their response and its window (what
        `passerelle_connector_window_in_use` publishes), recorded with its lease."""
        return {n: (link.in_flight, link.connector.window) for n, link in self._links.items()}

    def capacity(self) -> int:
        return sum(link.connector.window for link in self._links.values() if link.healthy())

    @property
    def links(self) -> dict[str, Link]:
        """The running links by connector name."""
        return self._links

    def ready(self) -> bool:
        """True when at least one link is bound, here or in another process."""
        return any(link.bound for link in self._links.values()) or any(
            row.bound for row in self._elsewhere.values()
        )

    def _usable(self, name: str) -> bool:
        link = self._links.get(name)
        if link is not None:
            return link.bound
        row = self._elsewhere.get(name)
        return row is not None and row.bound

    def not_ready(self) -> list[str]:
        """Why delivery cannot go on, one line each (empty when it can): no link bound,
        queued recipients with no usable route (as of the last refresh)."""
        reasons = [] if self.ready() else ["no connector bound"]
        if self.stranded.reason is not None:
            reasons.append(self.stranded.reason)
        return reasons

    async def recount(self) -> None:
        """Count the queued recipients that no bound connector can take, and the queue
        (after each refresh but the first: links are given one interval to bind)."""
        check = check_routes(self._routes, self._usable, self._stored, self._enabled)
        await self.stranded.update(check)
        self.metrics.queue_depth.set(await self.service.queue_depth())

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Apply the stored configuration, then keep re-reading it."""
        await self.refresh()
        self._task = asyncio.create_task(self._watch(), name="supervisor")

    async def _watch(self) -> None:
        refreshes = 0
        lease, every = self.settings.connector_lease_s, self.settings.connector_refresh_s
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(max(every, lease - every)):
                    await self.refresh()
                refreshes += 1
                # counting the queue can take a while on a deep one: not at every refresh
                if refreshes % RECOUNT_EVERY == 0:
                    await self.recount()
            except Exception:
                log.exception("cannot refresh connectors")
                await self._stop_if_lapsing()

    async def _stop_if_lapsing(self) -> None:
        """Stop every link once this process's leases are about to end unrenewed (the
        database is out of reach, or a refresh hangs): another process may then bind
        them, and two binds of one connector are never up together."""
        if (
            not self._links
            or time.monotonic() < self._held_until - self.settings.connector_refresh_s
        ):
            return
        log.warning("connector leases not renewed: stopping every link of this process")
        for name in list(self._links):
            await self._links.pop(name).stop()
        if self._simulator is not None:
            await self._stop_builtin()

    async def refresh(self) -> None:
        """Make the running links match the stored connectors and routes, for the
        connectors this process owns."""
        stored = await self.service.connectors()
        self._stored = frozenset(c.name for c in stored)
        self._enabled = frozenset(c.name for c in stored if c.enabled)
        configured = {c.name: c for c in stored if c.enabled}
        builtin = not configured and self.settings.builtin_simulator
        names = [BUILTIN] if builtin else list(configured)
        workers = await self.service.heartbeat(self.owner, self.settings.connector_lease_s)
        mine = share(names, workers, self.owner)
        # links still running stay claimed until they have stopped (below): given back
        # at the next refresh, never while bound, so another process cannot bind them
        # while this one still is
        asked_at = time.monotonic()
        owned = await self.service.claim_connectors(
            sorted(mine | set(self._links)),
            self.owner,
            self.settings.connector_lease_s,
            {name: link.bound for name, link in self._links.items()},
            self.window_use(),
        )
        self._held_until = asked_at + self.settings.connector_lease_s
        owned = owned & mine
        owners = await self.service.connector_owners()
        self._elsewhere = {n: row for n, row in owners.items() if row.owner != self.owner}
        wanted = {name: c for name, c in configured.items() if name in owned}
        if builtin and BUILTIN in owned:
            wanted = {BUILTIN: await self._builtin_connector()}
        elif self._simulator is not None:
            await self._stop_builtin()
        for name in list(self._links):
            if name not in wanted or self._links[name].connector != wanted[name]:
                await self._links.pop(name).stop()
                log.info("connector %s stopped", name)
        for name, connector in wanted.items():
            if name not in self._links:
                link = Link(
                    connector,
                    self.receipts.on_incoming,
                    response_timeout=self.settings.smpp_response_timeout_s,
                )
                self._links[name] = link
                link.start()
        rules = [r.route for r in await self.service.routes()]
        self._routes = rules or [Route(0, "", tuple(sorted(self._links)))]
        self.metrics.routes.set(len(self._routes))
        self.metrics.refreshes.inc()

    async def _builtin_connector(self) -> Connector:
        if self._builtin is None:
            from passerelle.simulator import Simulator, SimulatorConfig

            config = SimulatorConfig(
                host="127.0.0.1",
                port=0,
                delay=self.settings.simulator_delay_s,
                deliver_ratio=self.settings.simulator_deliver_ratio,
                receipt_window=self.settings.simulator_window,
                state_file=builtin_state_file(self.settings.database_url),
                state_interval=BUILTIN_STATE_INTERVAL_S,
            )
            simulator = Simulator(config)
            port = await simulator.start()
            self._simulator = simulator
            self._builtin = Connector(
                name=BUILTIN,
                host="127.0.0.1",
                port=port,
                system_id="passerelle",
                password="builtin",  # noqa: S106 - in-process simulator, loopback only
                window=self.settings.simulator_window,
            )
            log.info("built-in simulator listening", extra={"port": port})
        return self._builtin

    async def _stop_builtin(self) -> None:
        simulator, self._simulator, self._builtin = self._simulator, None, None
        link = self._links.pop(BUILTIN, None)
        if link is not None:
            await link.stop()
        if simulator is not None:
            await simulator.stop()  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Unbind every link gracefully, then stop the simulator."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(link.stop() for link in self._links.values()))
        self._links.clear()
        await self._stop_builtin()
        with contextlib.suppress(Exception):  # the next owner waits for the lease instead
            await self.service.release_connectors(self.owner)
