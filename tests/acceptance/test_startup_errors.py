"""Start-up and storage errors: one line on stderr, exit 3, no traceback, no "listening".

Each mistake is made as an operator would make it (a bad ``PASSERELLE_DATABASE_URL``, a
missing or read-only folder, a file that is not a database) and run through real
`passerelle serve` and `passerelle account show` processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import Servers, base_env, run_cli

COMMANDS = {
    "serve": ("serve", "--port", "0"),
    "serve-workers": ("serve", "--port", "0", "--workers", "2"),
    "account-show": ("account", "show", "demo"),
}


def run(
    folder: Path, url: str, command: tuple[str, ...], **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run `passerelle COMMAND` in `folder` with `url` as its database (bounded in time)."""
    env = {**base_env(folder / "unused.db"), "PASSERELLE_DATABASE_URL": url}
    env.update({f"PASSERELLE_{name.upper()}": value for name, value in settings.items()})
    return run_cli(env, *command, cwd=folder, expect=None)


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 3, nothing on stdout, one stderr line holding every `expected` piece."""
    lines = done.stderr.splitlines()
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "listening" not in done.stderr, done.stderr
    assert done.stdout == "", done.stdout
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    return lines[0]


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` refuse new files, even to root (immutable attribute), then undo it."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"chattr +i is not available here: {made.stderr!r}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_directory(tmp_path: Path, command: str) -> None:
    """A database in a folder that does not exist: the folder and the URL are named."""
    url = "sqlite:////nonexistent/dir/x.db"
    done = run(tmp_path, url, COMMANDS[command])
    line = assert_one_line(done, "/nonexistent/dir does not exist", url)
    assert line.startswith("error: database directory"), line


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_directory(tmp_path: Path, command: str) -> None:
    """A folder where SQLite cannot create its files: said before anything starts."""
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        done = run(tmp_path, f"sqlite:///{folder}/x.db", COMMANDS[command])
    assert_one_line(done, f"database directory {folder} is not writable")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///", "names no file: the gateway needs a database file shared"),
        ("sqlite:///:memory:", "in-memory database is refused"),
        (
            "sqlite://relative.db",
            "write sqlite:///relative.db for a file relative to the working directory, "
            "sqlite:////abs/path/relative.db for an absolute one",
        ),
        ("mysql://db/x", "unsupported database 'mysql'"),
    ],
)
def test_malformed_urls(tmp_path: Path, command: str, url: str, expected: str) -> None:
    """A URL that names no usable file is refused with how to write it."""
    assert_one_line(run(tmp_path, url, COMMANDS[command]), expected)


@pytest.mark.parametrize("migrate", ["true", "false"])
@pytest.mark.parametrize("command", ["serve", "account-show"])
def test_file_that_is_not_a_database(tmp_path: Path, command: str, migrate: str) -> None:
    """A file that is not SQLite fails in the migrations, or without them at open: one line."""
    (tmp_path / "x.db").write_bytes(b"not a database " * 100)
    (tmp_path / "x.db").chmod(0o600)
    done = run(tmp_path, "sqlite:///x.db", COMMANDS[command], migrate_on_start=migrate)
    assert_one_line(done, "file is not a database")


def test_unknown_variable_warned_by_the_cli(tmp_path: Path) -> None:
    """A misspelt PASSERELLE_* variable gets one warning line naming the setting meant."""
    done = run(tmp_path, "sqlite:///x.db", ("db", "upgrade"), databse_url="sqlite:///typo.db")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "warning: PASSERELLE_DATABSE_URL is not a Passerelle setting and is ignored; "
        "did you mean PASSERELLE_DATABASE_URL?"
    ]
    assert not (tmp_path / "typo.db").exists()


def test_serve_logs_listening_after_the_store_opened(servers: Servers) -> None:
    """A good start: unknown variables warned, one "migrations applied" line and no
    alembic chatter, then "listening" with its URL once the store is proven writable."""
    server = servers.new("good", log_level="info", PASSERELLE_NO_SUCH_THING="1")
    server.start()
    events = [json.loads(line) for line in server.log_text().splitlines()]
    messages = [event["msg"] for event in events]
    warned = [m for m in messages if "PASSERELLE_NO_SUCH_THING" in m]
    assert warned == ["PASSERELLE_NO_SUCH_THING is not a Passerelle setting and is ignored"]
    assert messages.count("migrations applied") == 1
    assert not [e for e in events if e["logger"].startswith("alembic")], messages
    listening = next(e for e in events if e["msg"] == "listening")
    assert listening["url"] == f"http://127.0.0.1:{server.port}"
    assert messages.index("migrations applied") < messages.index("listening")
