"""Database files are readable by their owner only (0600): a real `passerelle serve`.

The file holds callback signing secrets, SMPP passwords, password hashes, numbers and
texts; SQLite gives its ``-wal`` and ``-shm`` the mode of the database file.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

from tests.acceptance.conftest import MICHELLE, Checks, Server, Servers

SUFFIXES = ("", "-wal", "-shm")


def modes(db: Path) -> dict[str, str]:
    """The permission bits of the database file and its companions, as octal text."""
    return {s: oct(stat.S_IMODE(Path(f"{db}{s}").stat().st_mode)) for s in SUFFIXES}


def send_one(server: Server, check: type[Checks]) -> None:
    """One accepted `envoi`, so that the WAL holds data."""
    login, password = MICHELLE
    with server.client() as client:
        answer = server.get(
            client,
            f"/client/api?action=envoi&login={login}&apipasse={password}"
            "&msg=Bonjour&dest=33612345678&origine=Demo",
        )
    assert check.SENT.fullmatch(check.text(answer))


def test_new_database_files_are_0600(servers: Servers, check: type[Checks]) -> None:
    """A database made by the CLI and served: db, -wal and -shm are 0600 while serving."""
    server = servers.new("fresh")
    server.create_account(*MICHELLE, credits=10)
    server.start()
    send_one(server, check)
    assert modes(server.db_path) == dict.fromkeys(SUFFIXES, "0o600")


def test_wider_files_are_tightened_with_a_warning(servers: Servers, check: type[Checks]) -> None:
    """Files left 0644 (by an older version) are 0600 after the start, which says so."""
    server = servers.new("older", log_level="warning")
    server.create_account(*MICHELLE, credits=10)
    keeper = sqlite3.connect(server.db_path)  # keeps -wal and -shm present meanwhile
    try:
        keeper.execute("PRAGMA journal_mode = WAL")
        keeper.execute("SELECT count(*) FROM accounts").fetchone()
        for suffix in SUFFIXES:
            Path(f"{server.db_path}{suffix}").chmod(0o644)
        server.start()
        send_one(server, check)
        assert modes(server.db_path) == dict.fromkeys(SUFFIXES, "0o600")
    finally:
        keeper.close()
    warned = {
        json.loads(line)["file"]
        for line in server.log_text().splitlines()
        if "readable by other users" in line
    }
    assert warned == {f"{server.db_path}{s}" for s in SUFFIXES}


def test_outside_readers_do_not_reset_the_servers_shared_memory(
    servers: Servers, check: type[Checks]
) -> None:
    """Keeping the modes never drops SQLite's locks: a reader in another process, opened
    and closed while serving, leaves the server alive (a reset -shm would SIGBUS it)."""
    server = servers.new("readers")
    server.create_account(*MICHELLE, credits=10)
    server.start()
    for _ in range(3):
        send_one(server, check)
        with server.db() as conn:
            assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] >= 1
    send_one(server, check)
    assert server.process is not None and server.process.poll() is None
