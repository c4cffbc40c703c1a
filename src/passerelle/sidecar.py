"""Delivery in a process of its own, beside the API: the child `serve` starts by default.

One Python process has one interpreter lock: when it both accepts requests and delivers
them (claims, SMPP PDUs, submit results, receipts, the built-in simulator), each
accepted request waits behind the delivery work while a second core idles
(docs/performance.md). So a process that has both the `api` and the `delivery` roles
(`serve` on its defaults, or worker 0 of `--workers N`) keeps the API, the callback
sender and the retention purge, and runs the delivery in a child process: the
dispatcher, the SMPP links it owns, the receipt deadline and the built-in simulator.
`PASSERELLE_DELIVERY_PROCESS=false` keeps everything in one process, as does the
in-memory twin (`memory://`: a child would have a store of its own).

Both processes open the same database (SQLite serialises their commits; PostgreSQL
serves both), as `--workers` and `--role` processes already do. The child answers
/readyz and /metrics on an abstract Unix socket (Linux: a name, no file, so nothing is
left behind by a crash; it tells no more than those two pages of the HTTP port already
tell whoever reaches it), made for each child and kept by no one else (while no child
runs, a question is refused at once); the API
process asks it when it answers its own, each question bounded by `ASK_TIMEOUT_S`:
`/readyz` adds the child's reasons ("delivery process not answering" when it does
not), `/metrics` shows the child's delivery families (`delivery.metrics.FAMILIES`) in
place of its own, which are zero. So the one URL an operator watches shows everything.

The child is started again when it dies (after `RESTART_PAUSE_S`, doubled up to
`RESTART_PAUSE_MAX_S` while it keeps dying soon after its start), not when a signal
stopped it (SIGTERM, SIGINT: Ctrl-C in a terminal reaches both processes; /readyz then
says it is missing); it asks Linux to stop it when its parent dies, even by SIGKILL.
At a graceful stop of the parent alone the API
stops first (every accepted message committed), then the child (submits in flight
answered, links unbound, the built-in simulator's pending receipts saved); a signal to
the whole group (Ctrl-C, systemd's default `KillMode=control-group`) stops both at once,
which loses nothing either: each stop is graceful and every accepted message is
already committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from passerelle.delivery.metrics import Relayed

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
    the delivery in a child process (never on the in-memory twin: a child would have
    a store of its own, and deliver nothing the API accepted)."""
    shared = not settings.database_url.startswith("memory:")
    return settings.api and settings.delivery and settings.delivery_process and shared


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
    run_server(create_app(settings), socket.socket(fileno=int(fd)), settings)


class Sidecar:
    """Starts, watches and stops the delivery process of one API process."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.path = f"\0passerelle-{os.getpid()}-{secrets.token_hex(8)}"  # abstract
        self.overrides = {
            **overrides,
            **CHILD_ROLES,
            "fixed_roles": True,
            "migrate_on_start": False,
            "delivery_peer": "",
        }
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
        # A plain subprocess (not multiprocessing's, which starts a resource tracker
        # process of its own), handed a listening socket made for it: the parent keeps
        # no copy, so while no child runs a question is refused at once, not queued.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(self.path)
            sock.listen(64)
            fd = sock.fileno()
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
            try:
                self._spawn()
            except OSError:  # no socket, no process: /readyz says the delivery is missing
                log.exception("cannot start the delivery process again")
                return

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
            if status == 0 and process.returncode not in STOPPED_ON_PURPOSE:
                # a signal's exit code: stopped while importing, before its handlers
                # (and any work); Ctrl-C reaches it as SIGINT
                status = 1
        return status


class Peer:
    """The API process's questions to its delivery process, over the Unix socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.relayed = Relayed()  # its delivery metrics, to register in this process's
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
            async with asyncio.timeout(ASK_TIMEOUT_S):
                answer = await self._http().get("/readyz")
        except (httpx.HTTPError, OSError, TimeoutError):  # refused, timed out, cut: "not answering"
            return ["delivery process not answering"]
        if answer.status_code == 200:
            return []
        return [line for line in answer.text.splitlines() if line] or [
            f"delivery process answered {answer.status_code}"
        ]

    async def refresh_metrics(self) -> None:
        """Read the child's /metrics into `relayed` (none when it does not answer)."""
        try:
            async with asyncio.timeout(ASK_TIMEOUT_S):
                answer = await self._http().get("/metrics")
        except (httpx.HTTPError, OSError, TimeoutError):  # no figures rather than a failed scrape
            self.relayed.update(None)
            return
        self.relayed.update(answer.text if answer.status_code == 200 else None)

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


if __name__ == "__main__":
    main()
