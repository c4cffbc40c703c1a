"""The admin CLI on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli import main
from passerelle.core.values import NewMessage
from passerelle.store.sqlite import SqliteStore


class Cli:
    """Invokes `passerelle ...` in-process with a database in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.env = {"PASSERELLE_DATABASE_URL": f"sqlite:///{path / 'cli.db'}"}

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env)


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The CLI over a fresh database file."""
    return Cli(tmp_path)


def test_create_credit_show(run: Cli) -> None:
    """create → credit → show prints balance, state and secret; ledger matches."""
    created = run(
        "account",
        "create",
        "acme",
        "--email",
        "ops@acme.fr",
        "--api-password",
        "acme-pass-1",
        "--credits",
        "50",
        "--callback-url",
        "https://acme.fr/dlr",
    )
    assert created.exit_code == 0, created.output
    assert "acme created, 50 credits" in created.output
    credited = run("account", "credit", "acme", "25", "--reason", "invoice 12")
    assert credited.exit_code == 0 and "acme: added 25 credits, balance 75" in credited.output
    removed = run("account", "credit", "acme", "-1000")
    assert removed.exit_code == 0, removed.output
    assert "acme: removed 75 credits (asked 1000; balance cannot go below zero), balance 0" in (
        removed.output
    )
    shown = run("account", "show", "acme")
    assert shown.exit_code == 0
    assert "balance: 0 SMS  (ledger sum 0)" in shown.output
    assert "state: usable" in shown.output
    assert "POST https://acme.fr/dlr" in shown.output
    assert "invoice 12" in shown.output


def test_generated_password_shown_once(run: Cli) -> None:
    """Without --api-password, one is generated and printed."""
    created = run("account", "create", "gen", "--email", "g@x.fr")
    assert created.exit_code == 0
    assert "API password (shown once): " in created.output


def test_set_suspends(run: Cli) -> None:
    """`account set --suspended` blocks the account (shown as 14)."""
    run("account", "create", "acme", "--email", "o@a.fr", "--api-password", "acme-pass-1")
    result = run("account", "set", "acme", "--suspended", "--callback-method", "GET")
    assert result.exit_code == 0, result.output
    shown = run("account", "show", "acme")
    assert "blocked (14)" in shown.output and "callback: GET" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("account", "show", "ghost"), "error: no account named 'ghost'"),
        (("account", "credit", "ghost", "5"), "error: no account named 'ghost'"),
        (
            ("account", "create", "bad login", "--email", "x@y.fr", "--api-password", "12345678"),
            "login",
        ),
        (
            ("account", "create", "short", "--email", "x@y.fr", "--api-password", "123"),
            "at least 8",
        ),
        (("account", "create", "mail", "--email", "nope", "--api-password", "12345678"), "e-mail"),
        (
            (
                "account",
                "create",
                "cb",
                "--email",
                "x@y.fr",
                "--api-password",
                "12345678",
                "--callback-url",
                "ftp://x",
            ),
            "callback url",
        ),
    ],
)
def test_errors_exit_non_zero(run: Cli, args: tuple[str, ...], message: str) -> None:
    """Bad commands print a clear error and exit non-zero."""
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_duplicate_login(run: Cli) -> None:
    """Creating an existing login fails, saying the name is taken."""
    run("account", "create", "dup", "--email", "d@x.fr", "--api-password", "dup-pass-1")
    result = run("account", "create", "dup", "--email", "d@x.fr", "--api-password", "dup-pass-1")
    assert result.exit_code == 1
    assert "error: an account named 'dup' already exists" in result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["account"],
        ["account", "create"],
        ["account", "credit"],
        ["account", "show"],
        ["account", "set"],
        ["simulator"],
        ["connector", "add"],
        ["connector", "list"],
        ["connector", "remove"],
        ["route", "add"],
        ["route", "list"],
        ["route", "remove"],
    ],
)
def test_help_everywhere(command: list[str]) -> None:
    """Every command has --help."""
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_db_upgrade(run: Cli) -> None:
    """`db upgrade` creates the schema and says so."""
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.output


def test_connector_and_route_commands(run: Cli) -> None:
    """connector add/list/remove and route add/list/remove round-trip through the database."""
    added = run(
        "connector",
        "add",
        "op1",
        "--host",
        "127.0.0.1",
        "--port",
        "2775",
        "--system-id",
        "bench",
        "--password",
        "bench",
        "--window",
        "20",
    )
    assert added.exit_code == 0, added.output
    assert "op1" in run("connector", "list").output
    run(
        "connector",
        "add",
        "op2",
        "--host",
        "smsc.example.net",
        "--port",
        "2775",
        "--system-id",
        "b",
        "--password",
        "b",
    )
    first = run("route", "add", "33", "op1,op2", "--position", "10")
    assert first.exit_code == 0 and "route 1 added: 33" in first.output
    assert run("route", "add", "default", "op1").exit_code == 0
    listed = run("route", "list").output
    assert listed.index("33") < listed.index("(default)")
    assert run("route", "remove", "1").exit_code == 0
    assert run("route", "remove", "1").exit_code == 1
    assert run("connector", "remove", "op2").exit_code == 0
    assert run("connector", "remove", "op1", "--force").exit_code == 0
    assert "error: no connector named 'op1'" in run("connector", "remove", "op1").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--password", "waytoolongpw"), "password"),
        (("--password", "pw", "--system-id", "x" * 16), "system id"),
    ],
)
def test_connector_refuses_impossible_settings(
    run: Cli, args: tuple[str, ...], message: str
) -> None:
    """SMPP field limits are checked before storing."""
    base = ["connector", "add", "op", "--host", "h", "--port", "1", "--system-id", "s"]
    result = run(*base, *args)
    assert result.exit_code == 1 and message in result.output


def test_route_prefix_must_be_digits(run: Cli) -> None:
    """A prefix with letters is refused."""
    result = run("route", "add", "33a", "op1")
    assert result.exit_code == 1 and "prefix" in result.output


def test_db_purge_deletes_only_what_is_older_than_asked(run: Cli, tmp_path: Path) -> None:
    """`db purge --older-than-days 30` removes a 40-day-old message, keeps a new one and
    the ledger; with retention off and no age given, it purges nothing."""
    assert run("account", "create", "acme", "--email", "o@a.fr", "--credits", "10").exit_code == 0

    async def two_messages() -> tuple[int, int]:
        store = SqliteStore(str(tmp_path / "cli.db"))
        await store.open()
        try:
            account = await store.find_account("acme")
            assert account is not None
            now = time.time()
            ids = []
            for at in (now - 40 * 86400, now):
                message = NewMessage(
                    account.id, at, "Shop", 5, "hi", False, False, ("33600000001",), 1
                )
                ids.append(await store.accept_message(message))
            for due in await store.claim_due(now, 30.0, 10):  # both handed to the operator
                await store.mark_submitted(due.id, "op", f"id{due.id}", now)
            return ids[0], ids[1]
        finally:
            await store.close()

    old, new = asyncio.run(two_messages())
    off = CliRunner().invoke(
        main, ["db", "purge"], env={**run.env, "PASSERELLE_RETENTION_DAYS": "0"}
    )
    assert off.exit_code == 0 and "retention is off" in off.output
    result = run("db", "purge", "--older-than-days", "30")
    assert result.exit_code == 0, result.output
    assert "purged 1 message(s) older than 30 day(s)" in result.output
    conn = sqlite3.connect(tmp_path / "cli.db")
    try:
        assert [r[0] for r in conn.execute("SELECT msgid FROM messages")] == [new]
        assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] == 3  # grant + 2 debits
    finally:
        conn.close()
    assert run("db", "purge", "--older-than-days", "30").output.startswith("purged 0")
    assert old != new
