"""The built-in SMSC simulator: a real SMPP 3.4 server.

It is the embedded default operator (``passerelle serve`` with no connector starts it
on 127.0.0.1, port 0), a standalone sink for benchmarks (``passerelle simulator``,
`run_standalone`), and the zoo of failure modes the tests use (`Mode`).
`SimulatorConfig` lists every option.
"""

from __future__ import annotations

from passerelle.simulator.config import (
    IdFormat,
    Malformation,
    Mode,
    OutcomeKey,
    SimulatorConfig,
)
from passerelle.simulator.server import Simulator
from passerelle.simulator.standalone import run_standalone
from passerelle.simulator.stats import SimulatorStats

__all__ = [
    "IdFormat",
    "Malformation",
    "Mode",
    "OutcomeKey",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "run_standalone",
]
