"""Acceptance fixtures: real `passerelle serve` subprocesses and the `passerelle` CLI.

Every server listens on 127.0.0.1, port 0, and its port is read back from the file
given to ``--port-file``. Each server has its own SQLite file under a temporary
folder and its stderr (the JSON log) redirected to a file next to it. Servers are
stopped by their pid in teardown: SIGTERM, then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import pytest_asyncio

from tests import browser as browsing

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

PASSERELLE = Path(sys.executable).parent / "passerelle"
CONTENT_TYPE = "text/plain; charset=utf-8"
SENT = re.compile(r"\d{9}\|Message envoyé")
LEGACY_ERROR = re.compile(r"\d{2}\|[^\r\n]+")
SOLDE = re.compile(r"\d+ SMS")
TRACE_MARKERS = ("Traceback", 'File "', "Exception", "Error:", "line ")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0

MICHELLE = ("Michelle", "Michelle12345")


@dataclass(frozen=True)
class RawAnswer:
    """An HTTP answer read from a raw socket."""

    status: int
    headers: dict[str, str]
    body: bytes


def legacy_text(response: httpx.Response) -> str:
    """Assert the legacy transport (200, text/plain UTF-8, one line); return the body."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"] == CONTENT_TYPE
    body = response.content
    assert not body.endswith((b"\n", b"\r")), body
    assert b"\n" not in body, body
    text = body.decode("utf-8")
    assert_no_trace(text)
    return text


def assert_no_trace(text: str) -> None:
    """Assert that no Python stack trace or exception text is in `text`."""
    for marker in TRACE_MARKERS:
        assert marker not in text, (marker, text)


def assert_legacy_line(text: str) -> None:
    """Assert that `text` is one of the legacy answers: msgid, NN|label or N SMS."""
    assert (
        SENT.fullmatch(text)
        or LEGACY_ERROR.fullmatch(text)
        or SOLDE.fullmatch(text)
        or re.fullmatch(r"[012]\|[^\r\n]+", text)
    ), text


def raw_request(port: int, request: bytes, timeout: float = 15.0) -> RawAnswer:
    """Send `request` bytes as they are (``Connection: close`` expected) and read the answer."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:

        def write() -> None:
            # the server may answer (and close) before reading a huge body: not an error
            with contextlib.suppress(OSError):
                sock.sendall(request)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        writer.join(timeout)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status, headers, body)


def base_env(db_path: Path, log_level: str = "warning") -> dict[str, str]:
    """The environment of every subprocess: our database, quiet logs, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env["PASSERELLE_DATABASE_URL"] = f"sqlite:///{db_path}"
    env["PASSERELLE_LOG_LEVEL"] = log_level
    return env


def run_cli(
    env: dict[str, str], *args: str, cwd: Path | None = None, expect: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run the `passerelle` CLI in `cwd` (no stray .env); fail the test with its output
    unless it exits with `expect` (None: any exit code)."""
    done = subprocess.run(
        [str(PASSERELLE), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert expect is None or done.returncode == expect, (args, done.stdout, done.stderr)
    return done


@dataclass
class Server:
    """One `passerelle serve` subprocess on its own database file."""

    folder: Path
    log_level: str = "warning"
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0
    launcher: tuple[str, ...] = ()  # a command that execs `passerelle serve` (e.g. prlimit)
    serve_args: tuple[str, ...] = ()  # more options of `passerelle serve` (e.g. --role api)

    @property
    def db_path(self) -> Path:
        return self.folder / "p.db"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    @property
    def env(self) -> dict[str, str]:
        return {**base_env(self.db_path, self.log_level), **self.extra_env}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_account(self, login: str, password: str, credits: int) -> None:
        """`passerelle account create` through the CLI subprocess."""
        run_cli(
            self.env,
            "account",
            "create",
            login,
            "--email",
            f"{login.lower()}@example.com",
            "--api-password",
            password,
            "--credits",
            str(credits),
            cwd=self.folder,
        )

    def cli(self, *args: str) -> str:
        """Run `passerelle ARGS` on this server's database; its standard output."""
        return run_cli(self.env, *args, cwd=self.folder).stdout

    def add_connector(self, name: str, port: int, *options: str) -> None:
        """`passerelle connector add NAME` toward a simulator on 127.0.0.1:`port`."""
        self.cli(
            "connector", "add", name, "--host", "127.0.0.1", "--port", str(port),
            "--system-id", "x", "--password", "y", *options,
        )  # fmt: skip

    def add_route(self, prefix: str, connectors: str, position: int | None = None) -> None:
        """`passerelle route add PREFIX CONNECTORS [--position N]`."""
        where = ("--position", str(position)) if position is not None else ()
        self.cli("route", "add", prefix, connectors, *where)

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample of ``/metrics`` (0 when absent)."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=10.0).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def start(self) -> Server:
        """Start the server (again, on the same database) and wait until it answers."""
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        port_file = self.folder / f"port.{self.starts}"
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [
                    *self.launcher,
                    str(PASSERELLE),
                    *("serve", "--port", "0", "--port-file", str(port_file)),
                    *self.serve_args,
                ],
                env=self.env,
                cwd=self.folder,  # settings also read ./.env: keep the project's out
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own group: kill9 takes its children too
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                self.port = int(text)
                break
            self._check_alive(deadline)
            time.sleep(0.02)
        while True:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            self._check_alive(deadline)
            time.sleep(0.02)

    def _check_alive(self, deadline: float) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"server exited with {self.process.returncode}:\n{self.log_text()}")
        if time.monotonic() > deadline:
            self.stop()
            pytest.fail(f"server not ready within {START_TIMEOUT_S} s:\n{self.log_text()}")

    def stop(self) -> int | None:
        """SIGTERM by pid, then SIGKILL after a bounded wait; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode

    def pids(self) -> set[int]:
        """The server's pid and its children's (its delivery process, by default)."""
        found = {self.pid}
        for task in Path(f"/proc/{self.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found.update(map(int, task.read_text().split()))
        return found

    def kill9(self) -> None:
        """SIGKILL the server and the processes it started (its delivery process: a crash
        of the whole gateway, as a power cut would be), by their process group; reap it."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(STOP_TIMEOUT_S)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A connection to the server's SQLite file (for reading), closed after use."""
        conn = sqlite3.connect(self.db_path, timeout=10.0)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            yield conn
        finally:
            conn.close()

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def get(self, client: httpx.Client, target: str) -> httpx.Response:
        """GET `target` (path and query) with exactly these bytes on the wire."""
        request = client.build_request("GET", self.base_url + target)
        assert request.url.raw_path == target.encode("ascii"), request.url.raw_path
        return client.send(request)

    def raw(self, request: bytes) -> RawAnswer:
        return raw_request(self.port, request)

    def solde(self, client: httpx.Client, login: str, password: str) -> int:
        """The balance through the legacy API."""
        text = legacy_text(
            self.get(client, f"/client/api/?action=solde&login={login}&apipasse={password}")
        )
        assert SOLDE.fullmatch(text), text
        return int(text.split()[0])


class Servers:
    """Starts servers and stops every one of them at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Server] = []

    def new(self, name: str, log_level: str = "warning", **extra_env: str) -> Server:
        folder = self.root / name
        folder.mkdir(parents=True)
        server = Server(folder, log_level, dict(extra_env))
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


class Checks:
    """The shared assertions, handed to test modules by the `check` fixture."""

    SENT = SENT
    SOLDE = SOLDE
    CONTENT_TYPE = CONTENT_TYPE
    MICHELLE = MICHELLE
    text = staticmethod(legacy_text)
    line = staticmethod(assert_legacy_line)
    no_trace = staticmethod(assert_no_trace)
    raw_request = staticmethod(raw_request)
    run_cli = staticmethod(run_cli)


@pytest.fixture(scope="session")
def check() -> type[Checks]:
    """Shared assertions and constants (the legacy answer formats)."""
    return Checks


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A factory of servers for one test module, all stopped at its end."""
    factory = Servers(tmp_path_factory.mktemp("servers"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def gateway(servers: Servers) -> Server:
    """One server per module, with the manual's account Michelle / Michelle12345 (10 000 SMS)."""
    server = servers.new("gateway")
    server.create_account(*MICHELLE, credits=10_000)
    return server.start()


@pytest.fixture(scope="module")
def http(gateway: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the module's gateway."""
    with gateway.client() as client:
        yield client


# --- delivery: standalone SMSC simulators, senders, statut polling -------------------

SIM_LISTENING = re.compile(r"SMSC simulator listening on \S+ port (\d+)")
DELIVERED = "1|SMS reçu par le destinataire"
NOT_DELIVERED = "2|SMS non délivré"
IN_FLIGHT = "0|SMS en cours d'envoi"


@dataclass
class Smsc:
    """One standalone `passerelle simulator` subprocess with a stats file (and state file).

    The first start binds port 0; the port is read back from the stats file (key
    ``port``) or the log line. A restart reuses that port number (retried, bounded,
    while it is still taken). The stats of runs already stopped are kept in `runs`.
    """

    folder: Path
    name: str
    args: tuple[str, ...] = ()
    keep_state: bool = False
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    runs: list[dict[str, object]] = field(default_factory=list)
    starts: int = 0
    _log_offset: int = 0

    @property
    def stats_path(self) -> Path:
        return self.folder / f"{self.name}.stats.json"

    @property
    def state_path(self) -> Path:
        return self.folder / f"{self.name}.state.json"

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Smsc:
        """Start (or restart on the same port) and wait until it listens."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.launch().ready(deadline):
            if not self.port or time.monotonic() > deadline:
                pytest.fail(f"simulator {self.name} did not start:\n{self.log_text()}")
            time.sleep(0.2)  # the port may still be taken: try again, bounded
        return self

    def launch(self) -> Smsc:
        """Start the process without waiting (see `ready`)."""
        assert not self.running()
        self.starts += 1
        self.stats_path.unlink(missing_ok=True)
        command = [str(PASSERELLE), "simulator", "--port", str(self.port)]
        command += ["--stats-file", str(self.stats_path), *self.args]
        if self.keep_state:
            command += ["--state-file", str(self.state_path)]
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                command,
                env=base_env(self.folder / "unused.db", "info"),
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        return self

    def ready(self, deadline: float | None = None) -> bool:
        """Wait (until `deadline`) for the launched process to listen; False if it exited."""
        assert self.process is not None
        if deadline is None:
            deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            port = self._port_read(self._log_offset)
            if port:
                assert self.port in (0, port), (self.port, port)
                self.port = port
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.02)
        self.stop()
        return False

    def _port_read(self, offset: int) -> int:
        """The port from the stats file, else from this run's log line; 0 if not yet."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            port = int(self.stats()["port"])  # type: ignore[call-overload]
            if port:
                return port
        with self.log_path.open("rb") as log:
            log.seek(offset)
            match = SIM_LISTENING.search(log.read().decode("utf-8", "replace"))
        return int(match[1]) if match else 0

    def stats(self) -> dict[str, object]:
        """The current run's stats file."""
        return dict(json.loads(self.stats_path.read_text("utf-8")))

    def counter(self, key: str) -> int:
        """`key` of the current run (0 if not written yet)."""
        try:
            return int(self.stats().get(key, 0))  # type: ignore[call-overload]
        except (OSError, ValueError):
            return 0

    def total(self, key: str) -> int:
        """`key` summed over the runs already stopped and the current one."""
        done = sum(int(run.get(key, 0)) for run in self.runs)  # type: ignore[call-overload]
        return done + (self.counter(key) if self.running() else 0)

    def wait_for(self, key: str, at_least: int, timeout: float) -> int:
        """Poll the stats file (bounded) until `key` reaches `at_least`; its value."""
        deadline = time.monotonic() + timeout
        value = self.counter(key)
        while value < at_least and time.monotonic() < deadline:
            time.sleep(0.1)
            value = self.counter(key)
        return value

    def stop(self) -> int | None:
        """SIGTERM by pid (a graceful operator stop), then SIGKILL after a bounded wait."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
            with contextlib.suppress(OSError, ValueError):
                self.runs.append(self.stats())  # written again at stop
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""


class Smscs:
    """Starts standalone simulators and stops every one of them at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Smsc] = []

    def new(self, name: str, *args: str, keep_state: bool = False) -> Smsc:
        folder = self.root / name
        folder.mkdir(parents=True)
        smsc = Smsc(folder, name, tuple(args), keep_state)
        self.started.append(smsc)
        return smsc

    def start_all(self, *smscs: Smsc) -> None:
        """Launch several simulators at once, then wait for each to listen."""
        for smsc in smscs:
            smsc.launch()
        for smsc in smscs:
            if not smsc.ready():
                pytest.fail(f"simulator {smsc.name} did not start:\n{smsc.log_text()}")

    def stop_all(self) -> None:
        for smsc in self.started:
            smsc.stop()


@pytest.fixture(scope="module")
def smscs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smscs]:
    """A factory of standalone simulators for one test module, all stopped at its end."""
    factory = Smscs(tmp_path_factory.mktemp("smscs"))
    try:
        yield factory
    finally:
        factory.stop_all()


class Sender:
    """A client of one account on one server: `envoi` from threads, `statut` polling."""

    def __init__(self, server: Server, login: str, password: str, threads: int = 8) -> None:
        self.server = server
        self.login = login
        self.password = password
        self.threads = threads
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.server.client()
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def envoi(self, dests: list[str], msg: str = "e2e", post: bool = False) -> int:
        """One `envoi` (GET, or POST form); the msgid (fails on any other answer)."""
        params = {
            "action": "envoi",
            "login": self.login,
            "apipasse": self.password,
            "dest": ",".join(dests),
            "msg": msg,
            "origine": "E2E",
        }
        client = self._client()
        if post:
            response = client.post("/client/api/", data=params)
        else:
            response = client.get("/client/api/", params=params)
        text = legacy_text(response)
        assert SENT.fullmatch(text), (dests, text)
        return int(text.split("|")[0])

    def send_all(self, batches: list[list[str]], post: bool = False) -> dict[int, list[str]]:
        """Every batch as one `envoi`, concurrently on `threads` threads; msgid → batch."""
        with ThreadPoolExecutor(self.threads) as pool:
            msgids = list(pool.map(lambda dests: self.envoi(dests, post=post), batches))
        assert len(set(msgids)) == len(msgids), "a msgid was answered twice"
        return dict(zip(msgids, batches, strict=True))

    def statut(self, msgid: int, dest: str | None = None) -> str:
        """The `statut` answer for `msgid` (for one recipient with `dest`)."""
        params = {"action": "statut", "login": self.login, "apipasse": self.password}
        params["msgid"] = str(msgid)
        if dest is not None:
            params["dest"] = dest
        text = legacy_text(self._client().get("/client/api/", params=params))
        assert text in (IN_FLIGHT, DELIVERED, NOT_DELIVERED), (msgid, text)
        return text

    def wait_final(self, msgids: list[int], timeout: float) -> dict[int, str]:
        """Poll `statut` (bounded in time) until every msgid left 0; msgid → answer.

        Msgids still in flight at the deadline are answered with their last `0|...`.
        """
        answers: dict[int, str] = {}
        pending = list(msgids)
        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(self.threads) as pool:
            while pending:
                answers.update(zip(pending, pool.map(self.statut, pending), strict=True))
                pending = [m for m in pending if answers[m] == IN_FLIGHT]
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
        return answers

    def solde(self) -> int:
        return self.server.solde(self._client(), self.login, self.password)


class Delivery:
    """Delivery helpers handed to test modules by the `delivery` fixture."""

    DELIVERED = DELIVERED
    NOT_DELIVERED = NOT_DELIVERED
    IN_FLIGHT = IN_FLIGHT
    Sender = Sender

    @staticmethod
    def ledger(server: Server, login: str) -> list[tuple[str, int, int | None]]:
        """(kind, delta, msgid) of every ledger row of `login`, in order."""
        with server.db() as conn:
            return conn.execute(
                "SELECT l.kind, l.delta, l.msgid FROM ledger l"
                " JOIN accounts a ON a.id = l.account_id WHERE a.login = ? ORDER BY l.id",
                (login,),
            ).fetchall()

    @staticmethod
    def recipients(server: Server) -> dict[tuple[int, str], tuple[int, str | None, str | None]]:
        """(msgid, dest) → (state, connector, stat) of every recipient."""
        with server.db() as conn:
            rows = conn.execute("SELECT msgid, dest, state, connector, stat FROM recipients")
            return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


@pytest.fixture(scope="session")
def delivery() -> type[Delivery]:
    """Delivery helpers: `Sender`, ledger and recipient readers, the statut answers."""
    return Delivery


# --- browser: headless Chromium through Playwright (tests/browser.py) ----------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium (Debian's) for the run, closed at its end. Missing Playwright
    or Chromium: fails under CI, skips elsewhere. Tests using it carry `browser.BROWSER`."""
    async with browsing.launched() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page in a new browser context, both closed after the test; the test's screenshot
    folder (tests/artifacts/<test name>/, see `browser.snap`) is emptied first."""
    shutil.rmtree(browsing.artifact_folder(request.node.name), ignore_errors=True)
    async with browsing.new_page(browser) as opened:
        yield opened
