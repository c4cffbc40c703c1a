"""Which connectors a delivery process binds: the live processes share them out.

Every delivery process renews a heartbeat in the database at each refresh and reads
the list of live ones back; each then computes, from that same list, the same deal:
the connectors in name order, dealt round-robin to the processes in id order. A
process claims only its share (the ownership lease still guarantees one bind per
connector while the deal changes hands), so N processes and M connectors spread as
evenly as they can, and a process that joins or leaves moves only what the new deal
moves, at the next refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def share(names: Iterable[str], workers: Sequence[str], me: str) -> frozenset[str]:
    """The connectors of `names` that `me` binds when `workers` are alive (`me` is
    counted among them whether listed or not)."""
    live = sorted({*workers, me})
    mine = live.index(me)
    return frozenset(n for i, n in enumerate(sorted(set(names))) if i % len(live) == mine)
