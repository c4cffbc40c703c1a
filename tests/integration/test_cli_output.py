"""What the `passerelle` command prints, read as a person or a script reads it: whole
lines when piped, sentences for errors, what a command really did."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle import exceptions as exc
from passerelle.cli import main
from passerelle.core.values import NewMessage
from passerelle.store.sqlite import SqliteStore

PASSERELLE = Path(sys.executable).parent / "passerelle"
LONG_LOGIN = "customer-with-a-rather-long-login-name.example"
ADD_OP = ("connector", "add", "op", "--host", "h.example", "--port", "1", "--system-id", "s",
          "--password", "p")  # fmt: skip


class Cli:
    """`passerelle ...` on a database file: in-process, or as a piped subprocess."""

    def __init__(self, path: Path) -> None:
        self.db = path / "out.db"
        self.env = {"PASSERELLE_DATABASE_URL": f"sqlite:///{self.db}"}

    def __call__(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(main, list(args), env={**self.env, **env})

    def piped(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real command with its output into pipes (not a terminal), 80 COLUMNS."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PASSERELLE_", "TTY_"))}
        env.update(self.env, COLUMNS="80")
        return subprocess.run(
            [str(PASSERELLE), *args], env=env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The CLI over a fresh database file."""
    return Cli(tmp_path)


def admin_error_names() -> set[str]:
    names, todo = set(), [exc.AdminError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def failed_callback(path: Path) -> int:
    """An account with a long login and a callback URL, one message whose recipient
    failed (so one callback event); its msgid."""

    async def make() -> int:
        store = SqliteStore(str(path))
        await store.open()
        try:
            account = await store.find_account(LONG_LOGIN)
            assert account is not None
            now = time.time()
            message = NewMessage(account.id, now, "Shop", 5, "hi", False, True, ("33600000001",), 1)
            msgid = await store.accept_message(message)
            [due] = await store.claim_due(now, 30.0, 10)
            await store.mark_failed(due.id, "rejected by the operator, permanently", now, False)
            return msgid
        finally:
            await store.close()

    return asyncio.run(make())


def test_piped_callbacks_list_keeps_whole_values(run: Cli) -> None:
    """`callbacks list | cat` prints the msgid, login and error whole, on one line each."""
    created = run("account", "create", LONG_LOGIN, "--email", "o@x.fr", "--credits", "5",
                  "--callback-url", "https://example.com/dlr")  # fmt: skip
    assert created.exit_code == 0, created.output
    msgid = failed_callback(run.db)
    listed = run.piped("callbacks", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if str(msgid) in line]
    assert LONG_LOGIN in row and "33600000001" in row and "FAILED" in row
    assert "…" not in listed.stdout
    assert len(row) > 80


def test_piped_connector_list_keeps_whole_values(run: Cli) -> None:
    """`connector list | cat` prints a long host name and port whole."""
    host = "smsc-primary.operator-with-a-long-domain-name.example.net"
    added = run("connector", "add", "orange-primary", "--host", host, "--port", "2775",
                "--system-id", "ACME-GATEWAY-01", "--password", "s3cret")  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = run.piped("connector", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{host}:2775" in listed.stdout and "ACME-GATEWAY-01" in listed.stdout
    assert "…" not in listed.stdout


def test_piped_error_is_one_whole_line(run: Cli) -> None:
    """A long error (a connector named by three routes) is one line on stderr, uncut."""
    assert run(*ADD_OP).exit_code == 0
    for prefix in ("33", "34", "default"):
        assert run("route", "add", prefix, "op").exit_code == 0
    refused = run.piped("connector", "remove", "op")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "error: connector 'op' is named by routes 1 (33 → op); 2 (34 → op); 3 (default → op): "
        "remove or change them first, or use --force to remove them with the connector"
    ]


def test_credit_says_how_many_were_removed(run: Cli) -> None:
    """Removing 1000 of 106 credits says 106 were removed, that 1000 were asked, and why."""
    assert run("account", "create", "demo", "--email", "d@x.fr", "--credits", "106").exit_code == 0
    result = run("account", "credit", "demo", "-1000")
    assert result.exit_code == 0
    assert result.output == (
        "demo: removed 106 credits (asked 1000; balance cannot go below zero), balance 0\n"
    )
    assert run("account", "credit", "demo", "7").output == "demo: added 7 credits, balance 7\n"
    assert run("account", "credit", "demo", "-2").output == "demo: removed 2 credits, balance 5\n"


def test_set_prints_changed_fields_with_values(run: Cli) -> None:
    """`account set` prints each changed field with its new value (never a password)."""
    assert run("account", "create", "demo", "--email", "d@x.fr").exit_code == 0
    result = run("account", "set", "demo", "--not-suspended", "--rate-limit", "5",
                 "--no-gateway", "--api-password", "new-secret-1")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == (
        "account demo updated: api-password=(changed), gateway=no, rate-limit=5.0, suspended=no\n"
    )
    assert "new-secret-1" not in result.output


@pytest.mark.parametrize(
    ("setup", "args", "sentence"),
    [
        ((), ("account", "show", "ghost"), "no account named 'ghost'"),
        (
            (("account", "create", "dup", "--email", "d@x.fr"),),
            ("account", "create", "dup", "--email", "d@x.fr"),
            "an account named 'dup' already exists",
        ),
        ((), ("account", "create", "x", "--email", "nope"), "email: not an e-mail address"),
        ((), ("connector", "remove", "ghost"), "no connector named 'ghost'"),
        ((), ("route", "remove", "7"), "no route with id 7"),
        ((), ("callbacks", "replay", "99"), "no callback event 99"),
        ((), ("route", "add", "default", "ghost"), "no connector named 'ghost'"),
        (
            (ADD_OP, ("route", "add", "default", "op")),
            ("connector", "remove", "op"),
            "connector 'op' is named by route 1 (default → op)",
        ),
    ],
)
def test_errors_are_sentences_without_class_names(
    run: Cli, setup: tuple[tuple[str, ...], ...], args: tuple[str, ...], sentence: str
) -> None:
    """A refused operator command prints `error: <sentence>`, exits 1, names no exception class."""
    for step in setup:
        assert run(*step).exit_code == 0
    result = run(*args)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {sentence}")
    assert not {name for name in admin_error_names() if name in result.output}


def test_simulator_remote_host_names_the_option(run: Cli) -> None:
    """`simulator --host 0.0.0.0` refuses, naming the --allow-remote option as typed."""
    result = run("simulator", "--host", "0.0.0.0")  # refused before anything listens
    assert result.exit_code == 2
    assert "--allow-remote" in result.output and "allow_remote" not in result.output


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://127.0.0.1:8099/dlr", "127.0.0.1 is a private or loopback address"),
        ("http://10.1.2.3/dlr", "10.1.2.3 is a private or loopback address"),
        ("http://localhost:8099/dlr", "localhost resolves to"),
    ],
)
def test_private_callback_url_is_accepted_with_a_warning(run: Cli, url: str, hint: str) -> None:
    """A private callback URL is stored, with a warning naming PASSERELLE_CALLBACK_ALLOW_PRIVATE."""
    created = run("account", "create", "demo", "--email", "d@x.fr", "--callback-url", url)
    assert created.exit_code == 0
    assert hint in created.output
    assert "PASSERELLE_CALLBACK_ALLOW_PRIVATE=true" in created.output
    changed = run("account", "set", "demo", "--callback-url", url)
    assert changed.exit_code == 0 and "warning: callbacks to " in changed.output
    assert url in run("account", "show", "demo").output


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("http://127.0.0.1:8099/dlr", {"PASSERELLE_CALLBACK_ALLOW_PRIVATE": "true"}),
        ("https://93.184.216.34/dlr", {}),
        ("https://no-such-host.invalid/dlr", {}),  # the guard resolves again at each send
    ],
)
def test_no_callback_warning_when_it_will_be_called(
    run: Cli, url: str, env: dict[str, str]
) -> None:
    """No warning for public, unresolvable, or allowed private callback URLs."""
    assert run("account", "create", "demo", "--email", "d@x.fr").exit_code == 0
    changed = run("account", "set", "demo", "--callback-url", url, **env)
    assert changed.exit_code == 0
    assert "warning" not in changed.output
