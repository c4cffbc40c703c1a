"""The state file: the next message number and the receipts not yet acknowledged.

JSON, ``{"version": 1, "next_number": n, "pending": [[field, ...], ...]}`` with the
fields of `Pending` in order. It is replaced atomically (temporary file + rename), so
a simulator killed at any moment leaves the previous complete state; what it accepted
since the last save (at most ``state_interval``) is lost with it. A graceful stop
saves last. Not fsynced: it survives a process restart, not a power cut.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from passerelle.exceptions import ConfigError
from passerelle.simulator.receipt import Pending
from passerelle.simulator.stats import write_json

VERSION = 1
_FIELDS = tuple(f.name for f in fields(Pending))
_ROW = operator.attrgetter(*_FIELDS)


@dataclass(frozen=True, slots=True)
class SavedState:
    """What a state file holds."""

    next_number: int
    pending: tuple[Pending, ...]


def save_state(path: Path, next_number: int, pending: Iterable[Pending]) -> None:
    """Write the state file atomically."""
    rows = [_ROW(p) for p in pending]
    write_json(path, {"version": VERSION, "next_number": next_number, "pending": rows})


def load_state(path: Path) -> SavedState | None:
    """The saved state, None when there is no file; ConfigError when it is unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"simulator state file {path}: {exc}") from exc
    try:
        if raw["version"] != VERSION:
            raise ValueError(f"version {raw['version']!r}")
        pending = tuple(Pending(*row) for row in raw["pending"])
        return SavedState(int(raw["next_number"]), pending)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"simulator state file {path}: {exc}") from exc
