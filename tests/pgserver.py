"""A real PostgreSQL for the tests, on any machine (imported as `tests.pgserver`).

Where the server comes from:

- ``PASSERELLE_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
  is used when it answers within 2 s as a user that may create databases;
- otherwise the run starts a throwaway server of its own: Debian's ``postgresql``
  package (``./dev test`` installs it), the newest ``/usr/lib/postgresql/<version>/bin``,
  ``initdb`` in a temporary directory, trust authentication, listening on 127.0.0.1
  only, on a free port, its socket in that directory. As root, ``initdb`` and
  ``postgres`` run as the ``postgres`` system user, who owns the directory. At the end of
  the session the server is stopped by its own pid and the directory removed. It starts
  in under a second.

When neither is possible, `admin_url` raises `NoServer` (one line saying why), and
`required_admin_url` (the fixtures' way in) calls `unavailable`: under ``CI`` the test
fails with that line, elsewhere it is skipped with it.

Each session makes its own databases, ``passerelle_t_<pid>_<n>``, through an admin
connection (asyncpg) and drops them at the end (``DROP DATABASE ... WITH (FORCE)``).

Isolation between tests (the ``postgres_url`` fixture): one migrated database per
session, emptied before each test by `empty_database` (``TRUNCATE`` of every table of
`passerelle.store.schema.metadata` ``RESTART IDENTITY CASCADE``), rather than a new
database per test. Measured per test (medians of 20-25, on the configured server and on
a throwaway one, in runs with and without other work sharing the machine): the TRUNCATE
costs 20-80 ms; a new database copied from a migrated template and dropped after costs
60-390 ms, 2.5 to 5 times as much in every run (CREATE DATABASE writes ~8 MB, the
catalogs of template0); a new database migrated by `migrate.upgrade` and dropped,
130-500 ms. Tests that need a database of their own (migrations, schema changes) take
`new_database` or `migrated_database`.

Every helper is synchronous (the admin work runs in `asyncio.run` on a thread of its
own), so sync code, sync fixtures and async tests can all call them.

API: `admin_url`, `required_admin_url`, `new_database`, `migrated_database`,
`drop_database`, `empty_database`, `start_throwaway` (→ `Throwaway`: ``.url``, ``.port``,
``.pid``, ``.stop()``), `close`; `Session` holds the same for a session of one's own
(tests of this module); `configured_url` and `take_configured_url`; `unavailable` fails
or skips; `postgres_bin` finds the binaries.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypedDict, TypeVar
from urllib.parse import urlsplit

import asyncpg
import pytest

from passerelle.store import migrate
from passerelle.store.schema import metadata

ENV = "PASSERELLE_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
PROBE_TIMEOUT_S = 2.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOCK_TIMEOUT_S = 10.0
SYSTEM_USER = "postgres"
# the throwaway server's settings (besides its port and socket directory)
SETTINGS = ["listen_addresses=127.0.0.1", "shared_buffers=32MB", "max_connections=200"]

T = TypeVar("T")


_taken: str | None = None


def take_configured_url() -> None:
    """Move ``PASSERELLE_TEST_POSTGRES_URL`` out of the environment (into this module):
    it is no Passerelle setting, and the CLI under test warns about every
    ``PASSERELLE_*`` variable it does not know. `tests/conftest.py` calls it at start."""
    global _taken
    value = os.environ.pop(ENV, None)
    if value:
        _taken = value


def configured_url() -> str:
    """The server to try first: ``PASSERELLE_TEST_POSTGRES_URL`` (in the environment or
    taken from it), else ``postgresql://postgres@127.0.0.1:5432/test``."""
    return os.environ.get(ENV) or _taken or DEFAULT_URL


class NoServer(RuntimeError):
    """No PostgreSQL could be found or started; the message is one line saying why."""


def in_ci() -> bool:
    """True under ``CI`` (set and not ``0``/``false``/``no``): tests must run there."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Fail the test with `reason` under ``CI``, skip it with `reason` elsewhere."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


def empty_database(url: str, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
    """Empty every table of `passerelle.store.schema.metadata` in the database at `url`
    and restart their identity sequences (``TRUNCATE ... RESTART IDENTITY CASCADE``);
    ``alembic_version`` stays. A connection still holding a lock on one of them (a store
    an earlier test left open in a transaction) makes it fail after `lock_timeout_s`,
    saying so, rather than wait for ever."""
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)

    async def truncate() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"SET lock_timeout = {round(lock_timeout_s * 1000)}")
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        except asyncpg.LockNotAvailableError:
            raise RuntimeError(
                f"could not empty {urlsplit(url).path.lstrip('/')}: another connection "
                f"still holds a lock on its tables after {lock_timeout_s:g} s "
                "(a store an earlier test did not close?)"
            ) from None
        finally:
            await conn.close()

    run_sync(truncate)


_exiting = False


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine `factory` makes in a loop of its own on a thread: callable from
    sync code and from inside a running loop alike, and it leaves the caller's thread
    and event loop alone. (At interpreter exit, when no new thread may start, in this
    thread.)"""

    def run() -> T:
        async def main() -> T:
            return await factory()

        return asyncio.run(main())

    if _exiting:
        return run()
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(run).result()


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of `sql` on the database at `url`, over a short connection of its own."""

    async def read() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run_sync(read)


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead (user, host, port and query kept)."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def postgres_bin(root: Path = DEBIAN_ROOT) -> Path:
    """The ``bin`` folder of the newest PostgreSQL under `root` (``<version>/bin``, with
    ``initdb`` and ``postgres``); NoServer when there is none."""

    def version(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.name.split("."))
        except ValueError:
            return ()

    candidates = [
        path / "bin"
        for path in (root.iterdir() if root.is_dir() else [])
        if version(path)
        and (path / "bin" / "initdb").is_file()
        and (path / "bin" / "postgres").is_file()
    ]
    if not candidates:
        raise NoServer(
            f"no initdb and postgres under {root}/<version>/bin "
            "(Debian's postgresql package; ./dev test installs it)"
        )
    return max(candidates, key=lambda b: version(b.parent))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return "no log"
    lines = [line for line in lines if line]
    return lines[-1] if lines else "empty log"


def _traversable_by_all(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


@dataclass
class Throwaway:
    """A PostgreSQL server of the test run: trust authentication, 127.0.0.1 only.

    `url` is its admin URL (user ``postgres``, database ``postgres``); `stop` ends it by
    its pid and removes `directory` (data, socket, log ``postgres.log``)."""

    url: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The postmaster's pid."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server (SIGQUIT to its pid: immediate shutdown, the data are thrown
        away; SIGKILL if it is still there after 10 s) and remove its directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
        if self in _running:
            _running.remove(self)


_running: list[Throwaway] = []
_numbers = itertools.count(1)


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop()


def start_throwaway(root: Path | None = None) -> Throwaway:
    """Start a new throwaway server (always a new one; `admin_url` reuses its own) from
    the newest PostgreSQL under `root` (default `DEBIAN_ROOT`) and wait until it accepts
    connections. NoServer (one line) when it cannot start."""
    bindir = postgres_bin(root or DEBIAN_ROOT)
    as_root = os.geteuid() == 0
    owner: pwd.struct_passwd | None = None
    base: str | None = None
    if as_root:
        try:
            owner = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise NoServer(
                f"running as root and there is no {SYSTEM_USER!r} user to run PostgreSQL as "
                "(Debian's postgresql package creates it)"
            ) from None
        # the postgres user must reach the directory
        if not _traversable_by_all(Path(tempfile.gettempdir())):
            base = "/tmp"  # world-traversable, unlike a root-only TMPDIR
    directory = Path(tempfile.mkdtemp(prefix="passerelle-pg-", dir=base))
    try:
        if owner is not None:
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=directory,
            capture_output=True,
            check=False,
            **_run_as(owner),
        )
        if init.returncode != 0:
            output = (init.stderr or init.stdout).decode(errors="replace").strip().splitlines()
            raise NoServer(f"initdb failed: {output[-1] if output else init.returncode}")
        for _attempt in range(3):  # the free port may be taken before postgres binds it
            server = _start_postgres(bindir, directory, owner)
            if server is not None:
                _running.append(server)
                return server
        raise NoServer(f"postgres did not start: {_last_line(directory / 'postgres.log')}")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


class _RunAs(TypedDict):
    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _run_as(owner: pwd.struct_passwd | None) -> _RunAs:
    """subprocess arguments running a program as `owner` (None: as ourselves)."""
    if owner is None:
        return {"user": None, "group": None, "extra_groups": None}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _start_postgres(
    bindir: Path, directory: Path, owner: pwd.struct_passwd | None
) -> Throwaway | None:
    """Start postgres on a free port; None when the port was taken meanwhile."""
    port = _free_port()
    data = directory / "data"
    log = directory / "postgres.log"
    with log.open("ab") as out:
        if owner is not None:
            os.chown(log, owner.pw_uid, owner.pw_gid)
        logged_before = out.tell()
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                *(f"-c{setting}" for setting in SETTINGS),
                f"-cunix_socket_directories={directory}",
            ],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is pytest's, not the server's
            **_run_as(owner),
        )
    server = Throwaway(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        port=port,
        directory=directory,
        process=process,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    pidfile = data / "postmaster.pid"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with log.open("rb") as written:
                written.seek(logged_before)
                if b"could not bind" in written.read():
                    return None
            raise NoServer(f"postgres exited at start: {_last_line(log)}")
        try:
            lines = pidfile.read_text().splitlines()
        except OSError:
            lines = []
        # the postmaster writes "ready" in its pid file once it accepts connections
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return server
        time.sleep(0.01)
    server.stop()
    raise NoServer(f"postgres not ready after {START_TIMEOUT_S:.0f} s: {_last_line(log)}")


async def _probe(url: str) -> str | None:
    """None when `url` answers as a user that may create databases, else why not."""
    try:
        conn = await asyncpg.connect(url, timeout=PROBE_TIMEOUT_S)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"{type(error).__name__}: {first}"
    try:
        allowed = await conn.fetchval(
            "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    return None if allowed else "its user may not create databases"


@dataclass
class Session:
    """One test session's PostgreSQL: the admin server (found or started once), the
    databases made on it, and `close` to drop them and stop what was started."""

    configured: str | None = None
    """The URL to try first; None: `configured_url()`."""

    throwaway: Throwaway | None = None
    """The server this session started when the configured one could not be used."""

    note: str = ""
    """One line saying which server `admin_url` chose, and why."""

    _admin: str | None = None
    _failure: NoServer | None = None
    _databases: list[str] = field(default_factory=list)

    def admin_url(self) -> str:
        """The admin server's URL, found once: the configured server if it answers within
        2 s, else a throwaway started now. NoServer (cached) when neither is possible."""
        if self._admin is not None:
            return self._admin
        if self._failure is not None:
            raise self._failure
        configured = self.configured or configured_url()
        reason = run_sync(lambda: _probe(configured))
        if reason is None:
            self._admin = configured
            self.note = f"configured server {configured}"
            return configured
        try:
            self.throwaway = start_throwaway()
        except NoServer as error:
            self._failure = NoServer(f"{configured} could not be used ({reason}) and {error}")
            raise self._failure from None
        self._admin = self.throwaway.url
        self.note = (
            f"throwaway server {self.throwaway.url} (pid {self.throwaway.pid}): "
            f"{configured} could not be used ({reason})"
        )
        return self._admin

    def _name(self) -> str:
        # one counter for every session of the process: they may share a server
        return f"passerelle_t_{os.getpid()}_{next(_numbers)}"

    def new_database(self) -> str:
        """The URL of a new empty database on the admin server, dropped by `close`."""
        admin = self.admin_url()
        name = self._name()

        async def create() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            finally:
                await conn.close()

        run_sync(create)
        self._databases.append(name)
        return with_database(admin, name)

    def migrated_database(self) -> str:
        """The URL of a new database with every migration applied, dropped by `close`: a
        new database brought to the newest revision by `migrate.upgrade`."""
        url = self.new_database()
        migrate.upgrade(url)
        return url

    def drop_database(self, url: str) -> None:
        """Drop the database `url` names (made by this session), connections and all."""
        name = urlsplit(url).path.lstrip("/")
        if name not in self._databases or self._admin is None:
            raise ValueError(f"{name!r} is not a database of this session")
        admin = self._admin

        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        run_sync(drop)
        self._databases.remove(name)

    def close(self) -> None:
        """Drop every database made here (on a configured server) and stop the throwaway
        server (its directory goes with everything in it). Idempotent."""
        names, self._databases = self._databases, []
        if self.throwaway is not None:
            self.throwaway.stop()
            self.throwaway = None
        elif names and self._admin is not None:
            admin = self._admin

            async def drop() -> None:
                conn = await asyncpg.connect(admin)
                try:
                    for name in names:
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()

            run_sync(drop)
        self._admin = None
        self._failure = None


_session = Session()


def session() -> Session:
    """The test run's session (what the module-level helpers use)."""
    return _session


def admin_url() -> str:
    """The run's admin URL (cached): see `Session.admin_url`."""
    return _session.admin_url()


def required_admin_url() -> str:
    """`admin_url`, or the calling test fails (under CI) or is skipped with the reason."""
    try:
        return admin_url()
    except NoServer as error:
        reason = str(error)
    unavailable(reason)  # outside the except: the one line, without a chained traceback


def new_database() -> str:
    """A fresh empty database of the run: see `Session.new_database`."""
    return _session.new_database()


def migrated_database() -> str:
    """A fresh migrated database of the run: see `Session.migrated_database`."""
    return _session.migrated_database()


def drop_database(url: str) -> None:
    """Drop a database of the run now: see `Session.drop_database`."""
    _session.drop_database(url)


def close() -> None:
    """Drop the run's databases and stop its throwaway server (end of the session)."""
    _session.close()


@atexit.register
def _close_at_exit() -> None:
    """What a run that stopped before its fixtures' teardown left: dropped, stopped."""
    global _exiting
    _exiting = True
    _session.close()
