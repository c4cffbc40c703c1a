"""`passerelle key create | list | revoke` on a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli import main
from passerelle.core.keys import ApiKey, key_digest, plausible_key
from passerelle.core.values import Account
from tests.support import sqlite_store


class Cli:
    """Invokes `passerelle ...` in-process with a database in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.path = path / "cli.db"
        self.env = {"PASSERELLE_DATABASE_URL": f"sqlite:///{self.path}"}

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env)

    def find(self, key: str) -> tuple[ApiKey, Account] | None:
        """What the store finds for `key`, read from the database file."""

        async def read() -> tuple[ApiKey, Account] | None:
            store = await sqlite_store(self.path)
            try:
                return await store.find_key(key_digest(key))
            finally:
                await store.close()

        return asyncio.run(read())


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The CLI over a fresh database file with the account acme."""
    cli = Cli(tmp_path)
    made = cli(
        "account", "create", "acme", "--email", "ops@acme.fr", "--api-password", "pw-12345678"
    )
    assert made.exit_code == 0, made.output
    return cli


def created_key(run: Cli, *args: str) -> str:
    """`key create acme ARGS`; the key on its last line."""
    result = run("key", "create", "acme", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_create_prints_a_working_key_alone_on_its_last_line(run: Cli) -> None:
    """The last line of `key create` is the key, and the store accepts it for acme."""
    key = created_key(run, "--name", "deploy")
    assert plausible_key(key)
    found = run.find(key)
    assert found is not None
    assert (found[0].name, found[0].prefix, found[1].login) == ("deploy", key[:12], "acme")


def test_list_shows_the_keys_but_never_a_key(run: Cli) -> None:
    """`key list` names each key by id, name and prefix; the keys themselves never."""
    first = created_key(run, "--name", "deploy")
    second = created_key(run)
    listed = run("key", "list", "acme")
    assert listed.exit_code == 0, listed.output
    assert "deploy" in listed.stdout and first[:12] in listed.stdout
    assert second[:12] in listed.stdout
    assert first not in listed.stdout and second not in listed.stdout
    assert listed.stdout.index(second[:12]) < listed.stdout.index(first[:12])  # newest first


def test_revoke_makes_the_key_unknown(run: Cli) -> None:
    """After `key revoke`, the store no longer finds the key; the list shows it revoked."""
    key = created_key(run)
    found = run.find(key)
    assert found is not None
    revoked = run("key", "revoke", "acme", str(found[0].id))
    assert revoked.exit_code == 0, revoked.output
    assert f"key {found[0].id} of acme revoked" in revoked.stdout
    assert run.find(key) is None
    row = [line for line in run("key", "list", "acme").stdout.splitlines() if key[:12] in line]
    assert len(row) == 1 and row[0].count("UTC") == 2  # created and revoked, never used


def test_errors_exit_non_zero_with_a_sentence(run: Cli) -> None:
    """An unknown account or key, a second revocation and a bad name are refused in one
    readable line, exit 1."""
    key = created_key(run)
    found = run.find(key)
    assert found is not None
    key_id = str(found[0].id)
    assert run("key", "revoke", "acme", key_id).exit_code == 0
    cases = [
        (("key", "create", "ghost"), "error: no account named 'ghost'"),
        (("key", "list", "ghost"), "error: no account named 'ghost'"),
        (("key", "revoke", "acme", key_id), f"error: no active key {key_id} for 'acme'"),
        (("key", "revoke", "acme", "999"), "error: no active key 999 for 'acme'"),
        (("key", "create", "acme", "--name", "x" * 65), "error: key name: at most 64"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stdout == ""
    assert run("key", "revoke", "acme", "not-a-number").exit_code == 2
