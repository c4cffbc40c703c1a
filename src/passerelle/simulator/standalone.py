"""`run_standalone`: the simulator as a process of its own (``passerelle simulator``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from passerelle.simulator.config import SimulatorConfig
from passerelle.simulator.server import Simulator

log = logging.getLogger("passerelle.simulator")


async def run_standalone(config: SimulatorConfig) -> None:
    """Serve until cancelled, SIGTERM or SIGINT; then stop gracefully (unbind, save).

    The bound port is logged (``SMSC simulator listening on <host> port <port>``) and,
    with a stats file, written into it as ``port``.
    """
    simulator = Simulator(config)
    await simulator.start()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        # not on the main thread, or no signals on this platform: cancellation only
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, done.set)
            handled.append(signum)
    try:
        await done.wait()
        log.info("SMSC simulator got a stop signal")
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await asyncio.shield(simulator.stop())
