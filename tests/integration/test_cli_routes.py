"""Routes never point at nothing: the connector and route commands on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle import exceptions as exc
from passerelle.cli import main
from passerelle.core.values import Connector
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.memory import MemoryStore


class Cli:
    """`passerelle ...` in-process on a database file in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.db = path / "routes.db"
        self.env = {"PASSERELLE_DATABASE_URL": f"sqlite:///{self.db}"}

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env)

    def connector(self, name: str, *options: str) -> Result:
        base = ("--host", "127.0.0.1", "--port", "2775", "--system-id", "gw", "--password", "pw")
        return self("connector", "add", name, *base, *options)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The CLI over a fresh database file."""
    return Cli(tmp_path)


def test_route_to_unknown_connector_is_refused(run: Cli) -> None:
    """`route add default ghost` exits 1, names ghost, and stores no route."""
    result = run("route", "add", "default", "ghost")
    assert result.exit_code == 1
    assert "error: no connector named 'ghost': the route was not added" in result.output
    assert run.rows("SELECT * FROM routes") == []


def test_route_names_only_the_unknown_connectors(run: Cli) -> None:
    """Among several connectors, the refusal names the missing ones only."""
    assert run.connector("orange").exit_code == 0
    result = run("route", "add", "33", "orange,sfr,free")
    assert result.exit_code == 1
    assert "no connectors named 'sfr', 'free'" in result.output
    assert "'orange'" not in result.output
    assert run.rows("SELECT * FROM routes") == []


def test_removing_a_routed_connector_is_refused(run: Cli) -> None:
    """`connector remove sim1` under `route default → sim1` exits 1 naming the route; both stay."""
    assert run.connector("sim1").exit_code == 0
    assert run("route", "add", "default", "sim1").exit_code == 0
    result = run("connector", "remove", "sim1")
    assert result.exit_code == 1
    assert "error: connector 'sim1' is named by route 1 (default → sim1)" in result.output
    assert "--force" in result.output
    assert run.rows("SELECT name FROM connectors") == [("sim1",)]
    assert run.rows("SELECT id, connectors FROM routes") == [(1, "sim1")]


def test_force_removes_the_routes_and_names_them(run: Cli) -> None:
    """`--force` removes the connector and each route naming it, printed; the others stay."""
    for name in ("orange", "sfr"):
        assert run.connector(name).exit_code == 0
    assert run("route", "add", "336", "orange,sfr", "--position", "10").exit_code == 0
    assert run("route", "add", "default", "orange").exit_code == 0
    assert run("route", "add", "44", "sfr").exit_code == 0
    result = run("connector", "remove", "orange", "--force")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "connector orange removed",
        "route 1 (336 → orange, sfr) removed with it",
        "route 2 (default → orange) removed with it",
    ]
    assert run.rows("SELECT id, prefix, connectors FROM routes") == [(3, "44", "sfr")]
    assert run.rows("SELECT name FROM connectors") == [("sfr",)]


def test_unrouted_connector_is_removed_without_force(run: Cli) -> None:
    """A connector no route names is removed with a plain `connector remove`."""
    assert run.connector("spare").exit_code == 0
    result = run("connector", "remove", "spare")
    assert result.exit_code == 0 and result.output == "connector spare removed\n"
    assert run.rows("SELECT * FROM connectors") == []


@pytest.mark.parametrize(
    "host",
    ["", "   ", "smsc example.net", "smsc.example.net:2775", "tab\there", "nul\x01", "-x.net"],
)
def test_connector_host_must_be_a_host_name_or_address(run: Cli, host: str) -> None:
    """A bad host (empty, spaces, port, control chars) is refused and nothing is stored."""
    result = run(
        "connector", "add", "x", "--host", host, "--port", "2775",
        "--system-id", "gw", "--password", "pw",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "error: host " in result.output and "host name or IP address" in result.output
    assert run.rows("SELECT * FROM connectors") == []


@pytest.mark.parametrize("host", ["smsc.example.net", "localhost", "10.0.0.7", "::1", "smsc."])
def test_connector_host_accepts_names_and_addresses(run: Cli, host: str) -> None:
    """Host names (with or without the final dot) and IPv4/IPv6 literals are accepted."""
    result = run(
        "connector", "add", "x", "--host", host, "--port", "2775",
        "--system-id", "gw", "--password", "pw",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run.rows("SELECT host FROM connectors") == [(host,)]


@pytest.mark.parametrize(("port", "ok"), [(0, False), (1, True), (65535, True), (65536, False)])
async def test_service_checks_the_port(port: int, ok: bool) -> None:
    """The service itself refuses a port outside 1–65535, whatever the front door."""
    gateway = Gateway(MemoryStore(), Settings.load(database_url="memory://"))
    try:
        connector = Connector("x", "smsc.example.net", port, "gw", "pw")
        if ok:
            assert (await gateway.add_connector(connector)).port == port
        else:
            with pytest.raises(exc.InvalidValue, match="port"):
                await gateway.add_connector(connector)
            assert await gateway.store.list_connectors() == []
    finally:
        gateway.close()


@pytest.mark.parametrize("host", ["", "a b", "x\n", "999.1.1.1", "[::1]", "a..b"])
async def test_service_checks_the_host(host: str) -> None:
    """The service refuses hosts that are neither a host name nor an IP literal."""
    gateway = Gateway(MemoryStore(), Settings.load(database_url="memory://"))
    try:
        with pytest.raises(exc.InvalidValue, match="host"):
            await gateway.add_connector(Connector("x", host, 2775, "gw", "pw"))
    finally:
        gateway.close()
