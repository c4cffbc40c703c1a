"""What the simulator saw and did: counters for tests, benchmarks and the stats file."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class SimulatorStats:
    """Live counters of one `Simulator` (mutated by it; read them, do not write them).

    Times are `time.time()` (None until it happened). ``accepted_by_destination``
    counts the submits answered ESME_ROK per destination address; a destination
    accepted twice also counts in ``duplicate_accepts`` (a gateway that sends a
    message twice shows up there). The stats file leaves the per-destination map
    out and keeps its size (``destinations``).
    """

    started_at: float = field(default_factory=time.time)
    host: str = ""
    port: int = 0
    sessions_open: int = 0
    connections: int = 0
    binds: int = 0
    binds_refused: int = 0
    unbinds: int = 0
    enquire_links: int = 0
    submits: int = 0
    submits_accepted: int = 0
    submits_unanswered: int = 0
    throttled: int = 0
    queue_full: int = 0
    rejected: int = 0
    nacks_sent: int = 0
    disconnects: int = 0
    malformed_sent: int = 0
    pdu_errors: int = 0
    generic_nacks_received: int = 0
    receipts_scheduled: int = 0
    receipts_sent: int = 0
    receipts_acked: int = 0
    receipts_nacked: int = 0
    receipts_requeued: int = 0
    receipts_loaded: int = 0
    duplicate_accepts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    accepted_by_destination: dict[str, int] = field(default_factory=dict)
    first_submit_at: float | None = None
    last_submit_at: float | None = None
    last_receipt_sent_at: float | None = None
    last_receipt_acked_at: float | None = None

    def as_dict(self, *, destinations: bool = True) -> dict[str, Any]:
        """The counters as JSON-ready values; without the per-destination map if asked."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["outcomes"] = dict(self.outcomes)
        if destinations:
            out["accepted_by_destination"] = dict(self.accepted_by_destination)
        else:
            out["destinations"] = len(out.pop("accepted_by_destination"))
        return out


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename),
    readable by its owner only (0600): it may hold numbers and message ids."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover temporary file keeps its mode through O_CREAT
    with open(fd, "w", encoding="utf-8") as file:
        file.write(json.dumps(data, separators=(",", ":")) + "\n")
    os.replace(tmp, path)
