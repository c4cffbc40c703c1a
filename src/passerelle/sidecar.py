"""Delivery in a process of its own, beside the API: the child `serve` starts by default.

One Python process has one interpreter lock: when it both accepts requests and delivers
them (claims, SMPP PDUs, submit results, receipts, the built-in simulator), each
accepted request waits behind the delivery work, and a 2-core machine keeps one core
idle (docs/performance.md measured accepts while delivering at about half the rate of
accepts alone). So a process that has both the `api` and the `delivery` roles
(`serve` on its defaults, or worker 0 of `--workers N`) keeps the API, the callback
sender and the retention purge, and runs the delivery in a child process: the
dispatcher, the SMPP links it owns, the receipt deadline and the built-in simulator.
`PASSERELLE_DELIVERY_PROCESS=false` keeps everything in one process.

Both processes open the same database (SQLite serialises their commits; PostgreSQL
serves both), as `--workers` and `--role` processes already do. The child answers
/readyz and /metrics on a Unix socket in a private folder (0700); the API process asks
it when it answers its own: `/readyz` adds the child's reasons ("delivery process not
answering" when it does not), `/metrics` shows the child's delivery families
(`delivery.metrics.FAMILIES`) in place of its own, which are zero. So the
one URL an operator watches keeps showing everything.

The child is started again when it dies (after `RESTART_PAUSE_S`, doubled up to
`RESTART_PAUSE_MAX_S` while it keeps dying soon after its start), not when it was
stopped on purpose (SIGTERM, SIGINT: Ctrl-C in a terminal reaches both processes); it
asks Linux to stop it when its parent dies, even by SIGKILL. At a graceful stop the API stops first
(every accepted message committed), then the child (submits in flight answered, links
unbound, the built-in simulator's pending receipts saved).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from passerelle.settings import Settings

log = logging.getLogger("passerelle.sidecar")

RESTART_PAUSE_S = 1.0  # then doubled while it keeps dying within STEADY_S of its start
RESTART_PAUSE_MAX_S = 30.0
STEADY_S = 10.0
STOPPED_ON_PURPOSE = (0, -signal.SIGTERM, -signal.SIGINT)  # exit codes of a stop asked for
ASK_TIMEOUT_S = 2.0  # a /readyz or /metrics question to the child
CHILD_ROLES = {"api": False, "callbacks": False, "retention": False, "delivery": True}


def wanted(settings: Settings) -> bool:
    """True when `settings` give one process both the API and the delivery, and ask for
    the delivery in a child process."""
    return settings.api and settings.delivery and settings.delivery_process


def main(argv: list[str] | None = None) -> None:
    """Entry point of the delivery process: `python -m passerelle.sidecar FD PARENT
    OVERRIDES` (the listening Unix socket's descriptor, the parent's pid, the settings
    overrides as JSON)."""
    from passerelle.workers import die_with_parent

    fd, parent, overrides = argv or sys.argv[1:]
    die_with_parent()
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        return
    from passerelle.cli.server import run_server
    from passerelle.logs import setup_logging
    from passerelle.settings import Settings
    from passerelle.wiring import create_app

    settings = Settings.load(**json.loads(overrides))
    setup_logging(settings.log_level, settings.log_format)
    sock = socket.socket(fileno=int(fd))
    run_server(create_app(settings), sock, settings)


class Sidecar:
    """Starts, watches and stops the delivery process of one API process."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="passerelle-"))  # 0700
        self.path = str(self.folder / "delivery.sock")
        self.overrides = {
            **overrides,
            **CHILD_ROLES,
            "fixed_roles": True,
            "migrate_on_start": False,
            "delivery_peer": "",
        }
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self._watch: threading.Thread | None = None

    def api_overrides(self) -> dict[str, Any]:
        """What the API process's settings change: no delivery here, the child's socket."""
        return {"delivery": False, "delivery_peer": self.path}

    def start(self) -> None:
        """Start the child and a thread that starts it again when it dies."""
        self._spawn()
        self._watch = threading.Thread(target=self._watching, name="sidecar", daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        # a plain subprocess (not multiprocessing's, which starts a resource tracker
        # process of its own): the socket is handed down by its descriptor
        fd = self.sock.fileno()
        command = [sys.executable, "-m", "passerelle.sidecar", str(fd), str(os.getpid())]
        # our own interpreter and module; the arguments are ours (no user input)
        process = subprocess.Popen([*command, json.dumps(self.overrides)], pass_fds=(fd,))  # noqa: S603
        self.process = process
        log.info("delivery process started", extra={"pid": process.pid})

    def _watching(self) -> None:
        quick_deaths = 0  # in a row, each within STEADY_S of its start
        while not self.stopping.is_set():
            process, started = self.process, time.monotonic()
            if process is None:
                return
            while process.returncode is None and not self.stopping.is_set():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.5)
            if self.stopping.is_set():
                return
            if process.returncode in STOPPED_ON_PURPOSE:
                # a signal of its own (Ctrl-C reaches the whole process group, an
                # operator's kill): not started again; /readyz says it is missing
                log.warning("delivery process stopped", extra={"exitcode": process.returncode})
                return
            quick_deaths = quick_deaths + 1 if time.monotonic() - started < STEADY_S else 1
            pause = min(RESTART_PAUSE_S * 2 ** (quick_deaths - 1), RESTART_PAUSE_MAX_S)
            log.error(
                "delivery process died; starting it again",
                extra={"exitcode": process.returncode, "in_s": pause},
            )
            if self.stopping.wait(pause):
                return
            self._spawn()

    def stop(self, grace: float) -> int:
        """SIGTERM the child and wait for its graceful stop (bounded); 0 when it was clean."""
        self.stopping.set()
        if self._watch is not None:
            self._watch.join(5.0)
        status = 0
        process = self.process
        if process is not None:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(grace + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                status = 1
            if status == 0 and process.returncode not in (0, -signal.SIGTERM):
                # -SIGTERM: stopped while importing, before its handlers (and any work)
                status = 1
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        return status


class Peer:
    """The API process's questions to its delivery process, over the Unix socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.path),
                base_url="http://delivery",
                timeout=ASK_TIMEOUT_S,
            )
        return self._client

    async def not_ready(self) -> list[str]:
        """The child's reasons for not being ready (one, when it does not answer)."""
        try:
            answer = await self._http().get("/readyz")
        except (httpx.HTTPError, OSError):  # refused, timed out, cut: "not answering"
            return ["delivery process not answering"]
        if answer.status_code == 200:
            return []
        return [line for line in answer.text.splitlines() if line] or [
            f"delivery process answered {answer.status_code}"
        ]

    async def metrics(self) -> str | None:
        """The child's Prometheus exposition (None when it does not answer)."""
        try:
            answer = await self._http().get("/metrics")
        except (httpx.HTTPError, OSError):  # no figures rather than a failed scrape
            return None
        return answer.text if answer.status_code == 200 else None

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


if __name__ == "__main__":
    main()
