"""`passerelle serve --workers N`: N processes answering the API on one listening socket.

One Python process spends its single GIL on HTTP parsing, our handler and the writer,
so it tops out near one core (docs/performance.md). With N workers the kernel spreads
connections over N processes sharing the socket; each has its own group-commit writer
on the same SQLite file (SQLite serialises the commits, and the credit check lives in
the charging UPDATE, so a balance can never be overdrawn whichever process charges it).

Worker 0 also runs the dispatcher and the SMPP links (in a child process of its own,
`sidecar.py`, unless PASSERELLE_DELIVERY_PROCESS=false), worker 1 the callback sender
(`roles`); the others serve the API only. An operator's bind count and the delivery
order are those of a single process, and callbacks do not compete with delivery for
one event loop. A worker that dies is started again (with its role), unless its start
failed (exit code 3: its store cannot open): then every worker is stopped and the parent
exits 3. SIGTERM/SIGINT on the parent stops every worker gracefully and exits 0 when all
of them did.

Per-process state, documented in the README: the request-rate counters, the credential
caches, and /metrics (each scrape shows the worker that answered it). The failed-login
counters are in the database, shared by every worker (`logins.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any

from passerelle.roles import Role, role_settings

if TYPE_CHECKING:
    from passerelle.settings import Settings

log = logging.getLogger("passerelle.workers")

RESTART_PAUSE_S = 1.0
STARTUP_FAILURE = 3  # a worker's exit code when its start failed: it is not started again
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker if the supervisor dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def roles(index: int, count: int) -> frozenset[Role]:
    """What worker `index` of `count` runs: the API, and on worker 0 the delivery
    (dispatcher, the SMPP links it owns) and the retention purge, on worker 1 the
    callback sender (worker 0 too when alone), so that delivery and callbacks never
    share an event loop."""
    named = {Role.API}
    if index == 0:
        named |= {Role.DELIVERY, Role.RETENTION}
    if index == (1 if count > 1 else 0):
        named.add(Role.CALLBACKS)
    return frozenset(named)


def worker_settings(overrides: dict[str, Any], index: int, count: int) -> Settings:
    """The settings of worker `index`: a role runs there only if its own setting is on
    too (`PASSERELLE_RETENTION=false` keeps the purge off in worker 0); roles chosen
    with `serve --role` run in every worker."""
    from passerelle.settings import Settings

    base = Settings.load(**overrides)
    if base.fixed_roles:
        return base
    wanted = role_settings(roles(index, count))
    return Settings.load(
        **{**overrides, **{name: on and bool(getattr(base, name)) for name, on in wanted.items()}}
    )


def _worker(
    index: int, count: int, sock: socket.socket, overrides: dict[str, Any], parent: int
) -> None:
    """Entry point of one worker process (spawned)."""
    die_with_parent()
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        return
    from passerelle.cli.server import run_roles
    from passerelle.logs import setup_logging

    settings = worker_settings(overrides, index, count)
    setup_logging(settings.log_level, settings.log_format)
    raise SystemExit(run_roles(sock, overrides, settings))


class WorkerPool:
    """Starts, watches and stops the worker processes (not to be confused with the
    connector supervisor of `delivery/supervisor.py`)."""

    def __init__(self, sock: socket.socket, count: int, overrides: dict[str, Any]) -> None:
        self.sock = sock
        self.count = count
        self.overrides = overrides
        self.context = multiprocessing.get_context("spawn")
        self.processes: dict[int, BaseProcess] = {}
        self.stopping = False

    def _start(self, index: int) -> None:
        process = self.context.Process(
            target=_worker,
            args=(index, self.count, self.sock, self.overrides, os.getpid()),
            name=f"worker-{index}",
        )
        process.start()
        self.processes[index] = process
        log.info("worker started", extra={"worker": index, "pid": process.pid})

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self, grace: float) -> int:
        """Run until SIGTERM/SIGINT; the exit status (0 when every worker stopped cleanly)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        for index in range(self.count):
            self._start(index)
        failed = False
        while not self.stopping:
            time.sleep(0.2)
            for index, process in list(self.processes.items()):
                if process.exitcode == STARTUP_FAILURE and not self.stopping:
                    log.error(
                        "worker could not start (see its line above): stopping",
                        extra={"worker": index},
                    )
                    self.stopping = failed = True
                elif not process.is_alive() and not self.stopping:
                    log.error(
                        "worker died; starting it again",
                        extra={"worker": index, "exitcode": process.exitcode},
                    )
                    time.sleep(RESTART_PAUSE_S)
                    self._start(index)
        for process in self.processes.values():
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: each worker shuts down gracefully
        # a worker's API stops within grace, then its delivery process (worker 0's) too
        deadline = time.monotonic() + 2 * (grace + 5)
        status = 0
        for process in self.processes.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
                status = 1
            elif process.exitcode != 0:
                status = 1
        return STARTUP_FAILURE if failed else status
