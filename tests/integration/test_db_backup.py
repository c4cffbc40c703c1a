"""`passerelle db backup FILE` on a real SQLite file, in-process (the backup taken while
`serve` writes is in tests/acceptance/test_backup_online.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

from click.testing import CliRunner, Result

from passerelle.cli import main
from passerelle.core.message import SendRequest
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.store.sqlite import SqliteStore
from tests.support import make_settings

LOGIN, PASSWORD = "acme", "acme-pass-1"


def cli(db: Path, *args: str) -> Result:
    """`passerelle ARGS` in-process with PASSERELLE_DATABASE_URL naming `db`."""
    return CliRunner().invoke(main, list(args), env={"PASSERELLE_DATABASE_URL": f"sqlite:///{db}"})


def filled(folder: Path) -> Path:
    """A database with an account, credits moved and messages in two states."""
    db = folder / "live.db"
    created = cli(db, "account", "create", LOGIN, "--email", "o@acme.fr", "--api-password",
                  PASSWORD, "--credits", "40")  # fmt: skip
    assert created.exit_code == 0, created.output
    assert cli(db, "account", "credit", LOGIN, "-3").exit_code == 0

    async def send() -> None:
        store = SqliteStore(str(db))
        await store.open()
        gateway = Gateway(store, make_settings(database_url=f"sqlite:///{db}"))
        try:
            account = await gateway.authenticate(LOGIN, PASSWORD, "192.0.2.1")
            for text in ("un", "deux", "trois"):
                request = SendRequest(dest="33612345601,33612345602", sender="Acme", text=text)
                await gateway.send(account, request)
            ops = Operations(store)
            due = await ops.claim_recipients(ops.clock(), 60.0, 2)
            for r in due:
                await ops.record_submitted(r.id, "sim", f"id-{r.id}", ops.clock())
        finally:
            gateway.close()
            await store.close()

    asyncio.run(send())
    return db


def test_backup_serves_the_same_accounts_and_messages(tmp_path: Path) -> None:
    """The backup, 0600 and self-contained, served as PASSERELLE_DATABASE_URL shows the
    same account, balance, ledger and messages as the database it was taken from."""
    db = filled(tmp_path)
    backup = tmp_path / "saved" / "backup.db"
    backup.parent.mkdir()
    done = cli(db, "db", "backup", str(backup))
    assert done.exit_code == 0, done.output
    size = f"{backup.stat().st_size:,}".replace(",", " ")
    assert done.stdout.startswith(f"backup written to {backup}: {size} bytes in ")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in backup.parent.iterdir()) == ["backup.db"]  # no -wal, no temp
    conn = sqlite3.connect(backup)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    original, restored = (cli(d, "account", "show", LOGIN) for d in (db, backup))
    assert restored.exit_code == 0
    assert restored.stdout == original.stdout
    assert "balance: 31 SMS  (ledger sum 31)" in restored.stdout
    assert "messages: 3" in restored.stdout
    assert all(f"│ {text} " in restored.stdout for text in ("un", "deux", "trois"))


def test_backup_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    """An existing FILE is refused (one line, exit 1) and left as it is; --force replaces it."""
    db = filled(tmp_path)
    backup = tmp_path / "backup.db"
    backup.write_bytes(b"an older backup")
    refused = cli(db, "db", "backup", str(backup))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: {backup} exists: name a new file, or use --force to replace it\n"
    )
    assert backup.read_bytes() == b"an older backup"
    forced = cli(db, "db", "backup", str(backup), "--force")
    assert forced.exit_code == 0, forced.output
    assert cli(backup, "account", "show", LOGIN).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_backup_refuses_the_database_itself(tmp_path: Path) -> None:
    """Even with --force, FILE may not be the database being backed up."""
    db = filled(tmp_path)
    refused = cli(db, "db", "backup", str(db), "--force")
    assert refused.exit_code == 1 and "is the database itself" in refused.stderr
    assert cli(db, "account", "show", LOGIN).exit_code == 0


def test_postgresql_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    """A PostgreSQL URL is refused in one line naming pg_dump; no file is made."""
    backup = tmp_path / "backup.db"
    env = {"PASSERELLE_DATABASE_URL": "postgresql://gw:secret@db.example:5432/passerelle"}
    refused = CliRunner().invoke(main, ["db", "backup", str(backup)], env=env)
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "pg_dump" in refused.stderr
    assert "secret" not in refused.stderr
    assert not backup.exists()


def test_missing_database_is_a_storage_error(tmp_path: Path) -> None:
    """No database file to back up: one line, exit 3, and no file is created anywhere."""
    refused = cli(tmp_path / "none.db", "db", "backup", str(tmp_path / "b.db"))
    assert refused.exit_code == 3 and "no database file at" in refused.stderr
    assert list(tmp_path.iterdir()) == []
