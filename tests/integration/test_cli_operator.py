"""`passerelle operator create` on a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.auth import verify_password
from passerelle.cli import main
from passerelle.core.console import Operator
from tests.support import sqlite_store

PASSWORD = "operator-pass-1"


class Cli:
    """Invokes `passerelle ...` in-process with a database in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.path = path / "cli.db"
        self.env = {"PASSERELLE_DATABASE_URL": f"sqlite:///{self.path}"}

    def __call__(self, *args: str, env: dict[str, str] | None = None, text: str = "") -> Result:
        return CliRunner().invoke(main, list(args), env={**self.env, **(env or {})}, input=text)

    def operator(self, login: str) -> Operator | None:
        """The stored operator `login`, read from the database file."""

        async def read() -> Operator | None:
            store = await sqlite_store(self.path)
            try:
                return await store.find_operator(login)
            finally:
                await store.close()

        return asyncio.run(read())


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    """The CLI over a fresh database file."""
    return Cli(tmp_path)


def test_create_operator_who_can_log_in(run: Cli) -> None:
    """`operator create` stores an operator whose password verifies."""
    created = run(
        "operator", "create", "root", "--email", "root@example.com", "--password", PASSWORD
    )
    assert created.exit_code == 0, created.output
    assert "operator root created" in created.output
    stored = run.operator("root")
    assert stored is not None and stored.email == "root@example.com"
    assert verify_password(stored.password_hash, PASSWORD)
    assert not verify_password(stored.password_hash, "another-password")


def test_second_create_is_refused(run: Cli) -> None:
    """The same login twice: exit 1 and a sentence, not a traceback."""
    args = ("operator", "create", "root", "--email", "root@example.com", "--password", PASSWORD)
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 1
    assert "error:" in again.output and "root" in again.output
    assert "Traceback" not in again.output


def test_password_from_environment_or_prompt(run: Cli) -> None:
    """Without --password, the variable gives it, else a prompt that does not echo it."""
    from_env = run(
        "operator",
        "create",
        "ops",
        "--email",
        "ops@example.com",
        env={"PASSERELLE_OPERATOR_PASSWORD": PASSWORD},
    )
    assert from_env.exit_code == 0, from_env.output
    assert "not a Passerelle setting" not in from_env.output
    stored = run.operator("ops")
    assert stored is not None and verify_password(stored.password_hash, PASSWORD)
    prompted = run(
        "operator", "create", "night", "--email", "n@example.com", text=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output
    stored = run.operator("night")
    assert stored is not None and verify_password(stored.password_hash, PASSWORD)


def test_invalid_values_are_explained(run: Cli) -> None:
    """A short password, a bad e-mail or a login an account has: exit 1, a sentence."""
    short = run("operator", "create", "root", "--email", "r@example.com", "--password", "short")
    assert short.exit_code == 1 and "at least" in short.output
    email = run("operator", "create", "root", "--email", "nope", "--password", PASSWORD)
    assert email.exit_code == 1 and "e-mail" in email.output
    account = run(
        "account", "create", "acme", "--email", "a@example.com", "--api-password", "acme-pass-1"
    )
    assert account.exit_code == 0, account.output
    taken = run("operator", "create", "acme", "--email", "o@example.com", "--password", PASSWORD)
    assert taken.exit_code == 1 and "acme" in taken.output
    assert run.operator("root") is None
