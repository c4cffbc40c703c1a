"""In-memory twin of connector ownership (`sqlite_owners.py`); its clock (`clock`,
the store's database clock) is the process's: a memory store has one process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from passerelle.core.values import ConnectorOwner


@dataclass
class MemoryOwners:
    """Owner rows by connector name."""

    owners: dict[str, ConnectorOwner] = field(default_factory=dict)
    workers: dict[str, float] = field(default_factory=dict)  # live delivery processes
    now_source: Callable[[], float] = time.time

    def clock(self) -> float:
        """The twin's database clock: `now_source` (the process's clock by default)."""
        return self.now_source()

    async def claim_connectors(
        self,
        names: Iterable[str],
        owner: str,
        lease: float,
        bound: Mapping[str, bool],
        use: Mapping[str, tuple[int, int]] | None = None,
    ) -> frozenset[str]:
        now = self.clock()
        wanted = set(names)
        for name, row in list(self.owners.items()):
            if row.owner == owner and name not in wanted:
                del self.owners[name]
        for name in wanted:
            held = self.owners.get(name)
            if held is None or held.owner == owner or held.until <= now:
                in_use, window = (use or {}).get(name, (0, 0))
                self.owners[name] = ConnectorOwner(
                    owner, now + lease, bool(bound.get(name)), in_use, window
                )
        return frozenset(n for n, row in self.owners.items() if row.owner == owner)

    async def heartbeat(self, owner: str, lease: float) -> list[str]:
        now = self.clock()
        self.workers[owner] = now + lease
        for name, until in list(self.workers.items()):
            if until <= now:
                del self.workers[name]
        return sorted(self.workers)

    async def release_connectors(self, owner: str) -> None:
        self.workers.pop(owner, None)
        for name, row in list(self.owners.items()):
            if row.owner == owner:
                del self.owners[name]

    async def connector_owners(self) -> dict[str, ConnectorOwner]:
        now = self.clock()
        return {n: row for n, row in self.owners.items() if row.until > now}
