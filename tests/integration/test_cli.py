"""The admin CLI on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli import main


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
    assert credited.exit_code == 0 and "acme: 75 credits" in credited.output
    removed = run("account", "credit", "acme", "-1000")
    assert removed.exit_code == 0 and "acme: 0 credits" in removed.output
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
        (("account", "show", "ghost"), "AccountNotFound"),
        (("account", "credit", "ghost", "5"), "AccountNotFound"),
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
    """Creating an existing login fails with AccountExists."""
    run("account", "create", "dup", "--email", "d@x.fr", "--api-password", "dup-pass-1")
    result = run("account", "create", "dup", "--email", "d@x.fr", "--api-password", "dup-pass-1")
    assert result.exit_code == 1 and "AccountExists" in result.output


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
