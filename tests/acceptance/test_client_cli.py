"""The Python client (`passerelle.client`) and `passerelle send | status` against a real
`passerelle serve` subprocess on its own SQLite file (built-in SMSC simulator)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import pytest

from passerelle.client import (
    NO_RETRY,
    AsyncClient,
    Client,
    ClientBadCredentials,
    ClientUnavailable,
    RetryPolicy,
)
from tests.acceptance.conftest import Server, Servers, run_cli

LOGIN = "Bulk"
CREDITS = 25_000
MSGID_LINE = re.compile(r"msgid (\d+)")


@pytest.fixture(scope="module")
def server(servers: Servers) -> Server:
    """One server with the account Bulk (25 000 credits)."""
    made = servers.new("client")
    made.create_account(LOGIN, "Bulk12345678", credits=CREDITS)
    return made.start()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    """An API key of Bulk: the last line of `passerelle key create`."""
    return server.cli("key", "create", LOGIN).strip().splitlines()[-1]


def cli(server: Server, key: str, *args: str, expect: int | None = 0) -> str:
    """`passerelle ARGS --url ... --key ...` on the server; its standard output."""
    api = ("--url", server.base_url, "--key", key)
    done = run_cli(server.env, *args, *api, cwd=server.folder, expect=expect)
    return done.stdout


def test_sync_client_sends_and_reads_back(server: Server, key: str) -> None:
    """Client.send answers the stored message; message() reads it; the balance drops."""
    with Client(server.base_url, key) as api:
        before = api.balance()
        sent = api.send(["33611111111", "33622222222"], "hello from the client", "Shop")
        assert {r.dest for r in sent.recipients} == {"33611111111", "33622222222"}
        assert not sent.replayed
        read = api.message(sent.msgid)
        assert read.msgid == sent.msgid and read.text == "hello from the client"
        assert api.balance() == before - sent.cost
        assert sent.cost == 2


def test_a_send_retried_with_its_key_is_sent_once(server: Server, key: str) -> None:
    """The same Idempotency-Key and body again: the first message, replayed, not charged."""
    with Client(server.base_url, key) as api:
        first = api.send(["33633333333"], "once", "Shop", idempotency_key="acceptance-once")
        before = api.balance()
        again = api.send(["33633333333"], "once", "Shop", idempotency_key="acceptance-once")
        assert again.msgid == first.msgid and again.replayed
        assert api.balance() == before


def test_async_client_sends_and_reads_back(server: Server, key: str) -> None:
    """AsyncClient does the same as Client."""

    async def run() -> None:
        async with AsyncClient(f"{server.base_url}/api/v1", key) as api:
            before = await api.balance()
            sent = await api.send(["33644444444"], "hello async", "Shop")
            read = await api.message(sent.msgid)
            assert read.recipients[0].dest == "33644444444"
            assert await api.balance() == before - 1

    asyncio.run(run())


def test_a_bad_key_is_the_typed_401(server: Server) -> None:
    """An unknown key raises ClientBadCredentials with status 401 and code 01."""
    with (
        Client(server.base_url, "psl_" + "x" * 43, retry=NO_RETRY) as api,
        pytest.raises(ClientBadCredentials) as raised,
    ):
        api.balance()
    assert raised.value.status == 401 and raised.value.code == "01"


def test_send_a_file_of_10000_numbers_twice(server: Server, key: str, tmp_path: Path) -> None:
    """`send --file` with 10 000 lines: all accepted, 10 000 credits taken; the same command
    again sends nothing (its batches' keys are the same)."""
    path = tmp_path / "numbers.csv"
    lines = ["number,name", *(f"3361{i:07d},person {i}" for i in range(10_000))]
    path.write_text("\n".join(lines) + "\n")
    with Client(server.base_url, key) as api:
        before = api.balance()
        args = ("send", "--file", str(path), "--text", "bulk", "--from", "Shop")
        first = cli(server, key, *args)
        assert "10000 numbers accepted" in first
        assert "0 lines refused" in first
        assert api.balance() == before - 10_000
        msgids = first.split("msgids:")[1].split()
        assert len(msgids) == 10
        second = cli(server, key, *args)
        assert "10000 numbers accepted (10000 already sent by an earlier run)" in second
        assert second.split("msgids:")[1].split() == msgids
        assert api.balance() == before - 10_000


def test_bad_lines_are_reported_and_the_good_ones_sent(
    server: Server, key: str, tmp_path: Path
) -> None:
    """Lines with bad numbers are listed by line number with their reason, not sent."""
    path = tmp_path / "mixed.txt"
    path.write_text("33655555501\nnot-a-number\n33655555502\n12\n+33655555503\n")
    with Client(server.base_url, key) as api:
        before = api.balance()
        out = cli(
            server, key, "send", "--file", str(path), "--text", "hi", "--from", "Shop", expect=1
        )
        assert "3 numbers accepted" in out
        assert "2 lines refused" in out
        assert re.search(r"2\s.*not-a-number\s.*05", out)
        assert re.search(r"4\s.*12\s.*06", out)
        assert api.balance() == before - 3


def test_a_batch_refused_for_its_size_is_split(servers: Servers, tmp_path: Path) -> None:
    """A batch refused with code 15 (too many recipients) is split until it is accepted."""
    small = servers.new("small", PASSERELLE_MAX_RECIPIENTS_POST="4")
    small.create_account(LOGIN, "Bulk12345678", credits=100)
    small.start()
    small_key = small.cli("key", "create", LOGIN).strip().splitlines()[-1]
    path = tmp_path / "ten.txt"
    path.write_text("".join(f"3367777770{i}\n" for i in range(10)))
    args = ("send", "--file", str(path), "--text", "hi", "--from", "Shop", "--batch", "10")
    out = cli(small, small_key, *args)
    assert "10 numbers accepted" in out and "0 lines refused" in out
    assert len(out.split("msgids:")[1].split()) == 4  # 10 -> 5 + 5 -> 2 + 3 + 2 + 3
    with Client(small.base_url, small_key) as api:
        assert api.balance() == 90


def test_send_to_and_status_watch(server: Server, key: str) -> None:
    """`send --to` prints the msgid; `status --watch` ends once every recipient is final."""
    sent = cli(
        server, key, "send", "--to", "33666666601,33666666602", "--text", "hi", "--from", "Shop"
    )
    msgid = MSGID_LINE.search(sent)
    assert msgid is not None
    assert "33666666601" in sent and "33666666602" in sent
    shown = cli(server, key, "status", msgid.group(1), "--watch", "--timeout", "30")
    assert shown.count("delivered") == 2
    assert "queued" not in shown and "submitted" not in shown


def test_cli_bad_key_exits_1_with_the_refusal(server: Server) -> None:
    """`passerelle status` with a bad key says 401 and code 01, exit 1."""
    done = run_cli(
        server.env,
        "status", "1", "--url", server.base_url, "--key", "psl_" + "y" * 43,
        cwd=server.folder, expect=1,
    )  # fmt: skip
    assert "401" in done.stderr and "01" in done.stderr


def test_no_server_is_client_unavailable_after_bounded_attempts(server: Server) -> None:
    """A port nobody listens on: ClientUnavailable after the policy's attempts; the CLI
    exits 3."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.1, budget_s=5.0)
    started = time.monotonic()
    with (
        Client(f"http://127.0.0.1:{port}", "psl_" + "z" * 43, retry=policy) as api,
        pytest.raises(ClientUnavailable) as raised,
    ):
        api.balance()
    assert "3 attempt(s)" in str(raised.value) and raised.value.last is None
    assert time.monotonic() - started < 5.0
    done = run_cli(
        server.env,
        "status", "1", "--url", f"http://127.0.0.1:{port}", "--key", "psl_" + "z" * 43,
        cwd=server.folder, expect=3,
    )  # fmt: skip
    assert "gave up" in done.stderr
