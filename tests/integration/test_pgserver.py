"""The tests' PostgreSQL (`tests/pgserver.py`): throwaway servers, fallback, databases."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from passerelle.store import migrate
from passerelle.store.schema import metadata
from tests import pgserver

USER_TABLES = (
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def unused_port() -> int:
    """A port nothing listens on (free a moment ago; kept free by nobody)."""
    return pgserver._free_port()


def existing_databases(admin: str) -> set[str]:
    async def names() -> set[str]:
        conn = await asyncpg.connect(admin)
        try:
            return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return pgserver.run_sync(names)


def refused(url: str) -> bool:
    """True when nothing accepts a connection at `url`'s host and port."""

    async def attempt() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except OSError:
            return True
        await conn.close()
        return False

    return pgserver.run_sync(attempt)


@pytest.fixture
def throwaway() -> Iterator[pgserver.Throwaway]:
    """A throwaway server of this test; stopped afterwards if the test did not."""
    server = pgserver.start_throwaway()
    yield server
    server.stop()


async def test_a_throwaway_server_answers_on_loopback_only_at_its_own_port(
    throwaway: pgserver.Throwaway,
) -> None:
    """start_throwaway gives a running server at 127.0.0.1:<its free port>, listening on
    127.0.0.1 only, its data in its own directory."""
    assert throwaway.url == f"postgresql://postgres@127.0.0.1:{throwaway.port}/postgres"
    assert throwaway.port != port_of(pgserver.DEFAULT_URL)
    conn = await asyncpg.connect(throwaway.url)
    try:
        assert await conn.fetchval("SELECT host(inet_server_addr())") == "127.0.0.1"
        assert await conn.fetchval("SELECT inet_server_port()") == throwaway.port
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        data = Path(await conn.fetchval("SHOW data_directory"))
        assert data.parent == throwaway.directory
        assert await conn.fetchval("SHOW unix_socket_directories") == str(throwaway.directory)
        assert await conn.fetchval("SHOW max_connections") == "200"
    finally:
        await conn.close()


def test_stop_ends_the_server_by_its_pid_and_removes_its_directory(
    throwaway: pgserver.Throwaway,
) -> None:
    """After stop() the postmaster's pid has ended, its directory is gone and its port
    refuses connections."""
    pid = throwaway.pid
    assert Path(f"/proc/{pid}").exists()
    assert (throwaway.directory / "data" / "postmaster.pid").read_text().split()[0] == str(pid)
    throwaway.stop()
    assert throwaway.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not throwaway.directory.exists()
    assert refused(throwaway.url)


def test_a_port_taken_before_postgres_binds_it_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the free port found is taken by the time postgres binds it, start_throwaway
    starts it again on another free port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = iter([taken])
        free_port = pgserver._free_port
        monkeypatch.setattr(pgserver, "_free_port", lambda: next(ports, None) or free_port())
        server = pgserver.start_throwaway()
        try:
            assert server.port != taken
            assert not refused(server.url)
            assert "could not bind" in (server.directory / "postgres.log").read_text()
        finally:
            server.stop()


def test_an_unreachable_configured_server_falls_back_to_a_throwaway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With PASSERELLE_TEST_POSTGRES_URL naming a port nothing listens on, admin_url
    starts a throwaway server and gives its URL; close() stops it."""
    unreachable = f"postgresql://postgres@127.0.0.1:{unused_port()}/test"
    monkeypatch.setenv(pgserver.ENV, unreachable)
    session = pgserver.Session()
    try:
        url = session.admin_url()
        assert session.throwaway is not None
        assert url == session.throwaway.url
        assert port_of(url) != port_of(unreachable)
        assert not refused(url)
        assert f"{unreachable} could not be used (ConnectionRefusedError" in session.note
        server = session.throwaway
    finally:
        session.close()
    assert server.process.returncode is not None
    assert not server.directory.exists()


def test_the_configured_url_is_taken_out_of_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """take_configured_url() removes PASSERELLE_TEST_POSTGRES_URL from the environment (the
    CLI warns about unknown PASSERELLE_* variables) and configured_url() still gives it."""
    monkeypatch.setattr(pgserver, "_taken", None)
    monkeypatch.setenv(pgserver.ENV, "postgresql://someone@192.0.2.1:6543/elsewhere")
    pgserver.take_configured_url()
    assert pgserver.ENV not in os.environ
    assert pgserver.configured_url() == "postgresql://someone@192.0.2.1:6543/elsewhere"
    monkeypatch.setattr(pgserver, "_taken", None)
    assert pgserver.configured_url() == pgserver.DEFAULT_URL


def test_the_tests_run_without_the_configured_url_in_their_environment() -> None:
    """conftest takes PASSERELLE_TEST_POSTGRES_URL out of the environment at start, so
    the CLI under test, in-process or spawned, never warns about it."""
    assert pgserver.ENV not in os.environ


def test_a_configured_server_that_refuses_the_user_falls_back_to_a_throwaway(
    postgres_admin_url: str,
) -> None:
    """A server that answers but refuses the configured user (no such role) is not used:
    admin_url starts a throwaway server instead."""
    parts = urlsplit(postgres_admin_url)
    stranger = parts._replace(netloc=f"passerelle_no_such_role@{parts.hostname}:{parts.port}")
    session = pgserver.Session(configured=stranger.geturl())
    try:
        url = session.admin_url()
        assert session.throwaway is not None
        assert url == session.throwaway.url
        assert "could not be used (InvalidAuthorizationSpecificationError" in session.note
    finally:
        session.close()


def test_new_databases_are_distinct_and_empty(postgres_admin_url: str) -> None:
    """new_database() gives a new, empty database each time on the admin server: a table
    made in one is not in the next."""
    first, second = pgserver.new_database(), pgserver.new_database()
    assert database_of(first) != database_of(second)
    assert database_of(first).startswith(f"passerelle_t_{os.getpid()}_")
    assert port_of(first) == port_of(postgres_admin_url)

    async def check() -> None:
        conn = await asyncpg.connect(first)
        try:
            assert await conn.fetchval("SELECT current_database()") == database_of(first)
            assert await conn.fetchval(USER_TABLES) == 0
            await conn.execute("CREATE TABLE left_behind (id int)")
        finally:
            await conn.close()
        conn = await asyncpg.connect(second)
        try:
            assert await conn.fetchval("SELECT current_database()") == database_of(second)
            assert await conn.fetchval(USER_TABLES) == 0
        finally:
            await conn.close()

    pgserver.run_sync(check)


def test_migrated_databases_are_at_head_and_independent(postgres_admin_url: str) -> None:
    """migrated_database() gives databases at the newest revision with every table of
    schema.py, each its own: rows written in one are not in the next."""
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    first, second = pgserver.migrated_database(), pgserver.migrated_database()
    assert database_of(first) != database_of(second)
    tables = set(metadata.tables)

    async def check() -> None:
        conn = await asyncpg.connect(first)
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head
            found = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            assert {r["tablename"] for r in found} == tables | {"alembic_version"}
            await conn.execute(
                "INSERT INTO login_counters (key, start, count) VALUES ('l:x', 1.0, 1)"
            )
        finally:
            await conn.close()
        conn = await asyncpg.connect(second)
        try:
            for table in tables:
                assert await conn.fetchval(f'SELECT count(*) FROM "{table}"') == 0, table
        finally:
            await conn.close()

    pgserver.run_sync(check)


def test_close_drops_every_database_of_the_session(postgres_admin_url: str) -> None:
    """close() drops the session's databases on a configured server, even one a
    connection still holds (WITH (FORCE)), and leaves the server running."""
    session = pgserver.Session(configured=postgres_admin_url)
    fresh, migrated = session.new_database(), session.migrated_database()
    made = {database_of(fresh), database_of(migrated)}
    assert session.throwaway is None
    assert made <= existing_databases(postgres_admin_url)

    async def hold_then_close() -> None:
        conn = await asyncpg.connect(fresh)
        try:
            await asyncio.to_thread(session.close)
        finally:
            await conn.close()

    pgserver.run_sync(hold_then_close)
    left = {name for name in existing_databases(postgres_admin_url) if name in made}
    assert left == set()
    assert not refused(postgres_admin_url)


ACCOUNT = (
    "INSERT INTO accounts (login, email, api_password_hash, activated, gateway_enabled,"
    " suspended, credits, callback_method, callback_secret, created_at, updated_at)"
    " VALUES ($1, 'a@x.fr', 'h', true, true, false, 5, 'POST', 's', 1.0, 1.0) RETURNING id"
)


def test_empty_database_empties_every_table_and_restarts_identities(
    postgres_admin_url: str,
) -> None:
    """empty_database() leaves every table of schema.py empty (rows that reference each
    other too), the next account id 1 again, and the revision in place."""
    url = pgserver.migrated_database()

    async def fill() -> None:
        conn = await asyncpg.connect(url)
        try:
            for login in ("a", "b"):
                account = await conn.fetchval(ACCOUNT, login)
                await conn.execute(
                    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason)"
                    " VALUES ($1, 1.0, 5, 'grant', 'test', 'first credits')",
                    account,
                )
        finally:
            await conn.close()

    async def check() -> None:
        conn = await asyncpg.connect(url)
        try:
            for table in metadata.tables:
                assert await conn.fetchval(f'SELECT count(*) FROM "{table}"') == 0, table
            assert await conn.fetchval(ACCOUNT, "c") == 1
            assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
        finally:
            await conn.close()

    pgserver.run_sync(fill)
    pgserver.empty_database(url)
    pgserver.run_sync(check)


def test_empty_database_says_which_lock_stops_it_rather_than_wait(
    postgres_admin_url: str,
) -> None:
    """A connection left in a transaction holding a lock on a table makes
    empty_database() fail after its lock timeout, naming the database, not hang."""
    url = pgserver.migrated_database()

    async def hold() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE routes IN ACCESS SHARE MODE")
                with pytest.raises(RuntimeError, match=database_of(url)) as raised:
                    await asyncio.wait_for(
                        asyncio.to_thread(pgserver.empty_database, url, 0.2), timeout=10
                    )
                assert "\n" not in str(raised.value)
        finally:
            await conn.close()

    pgserver.run_sync(hold)


def test_postgres_url_is_the_session_database_emptied(
    postgres_session_url: str, request: pytest.FixtureRequest
) -> None:
    """postgres_url gives the session's migrated database with the rows an earlier test
    wrote there gone."""

    async def write() -> None:
        conn = await asyncpg.connect(postgres_session_url)
        try:
            await conn.fetchval(ACCOUNT, "earlier")
        finally:
            await conn.close()

    pgserver.run_sync(write)
    url = request.getfixturevalue("postgres_url")
    assert url == postgres_session_url

    async def check() -> None:
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM accounts") == 0
            assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
        finally:
            await conn.close()

    pgserver.run_sync(check)


def test_postgres_bin_picks_the_newest_complete_version(tmp_path: Path) -> None:
    """Versions compare as numbers (15 after 9.6), a version without postgres is passed
    over, and a folder that is no version is ignored."""
    for version, binaries in [
        ("9.6", ["initdb", "postgres"]),
        ("15", ["initdb", "postgres"]),
        ("16", ["initdb"]),
        ("common", ["initdb", "postgres"]),
    ]:
        (tmp_path / version / "bin").mkdir(parents=True)
        for binary in binaries:
            (tmp_path / version / "bin" / binary).touch()
    assert pgserver.postgres_bin(tmp_path) == tmp_path / "15" / "bin"


def test_without_binaries_start_throwaway_says_why_in_one_line(tmp_path: Path) -> None:
    """No PostgreSQL installed: NoServer, one line naming where it looked and ./dev test."""
    with pytest.raises(pgserver.NoServer) as raised:
        pgserver.start_throwaway(root=tmp_path / "nothing")
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path / "nothing") in message
    assert "./dev test" in message


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_unavailable_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Under CI a missing PostgreSQL fails the test with the one-line reason, no traceback."""
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as raised:
        pgserver.unavailable("nothing answered")
    assert raised.value.pytrace is False
    assert str(raised.value) == "PostgreSQL is required under CI: nothing answered"


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_unavailable_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """Outside CI (unset, empty, false, 0) a missing PostgreSQL skips with its reason."""
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception) as raised:
        pgserver.unavailable("nothing answered")
    assert str(raised.value) == "no PostgreSQL: nothing answered"
