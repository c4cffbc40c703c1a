"""How fast `passerelle db copy` moves an installation (SQLite to PostgreSQL, back, and
SQLite to SQLite) and `passerelle db backup` saves it, on a source of N recipients
(messages of 50 recipients, their debits in the ledger), made through the store.

Usage: python bench/db_copy.py [--recipients N] [--postgres URL]
(default 100 000 recipients and postgresql://postgres@127.0.0.1:5432/test, on which a
database of its own is created and dropped). Prints rows and seconds per direction, as
the command prints them, and the peak memory of each copy (its process's max RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from passerelle.core.values import NewAccount, NewMessage
from passerelle.store import migrate
from passerelle.store.location import prepare_file
from passerelle.store.sqlite import SqliteStore

PER_MESSAGE = 50
PASSERELLE = Path(sys.executable).parent / "passerelle"


async def make_source(path: Path, recipients: int) -> None:
    prepare_file(str(path), f"sqlite:///{path}")  # 0600, as the gateway makes it
    migrate.upgrade(f"sqlite:///{path}")
    store = SqliteStore(str(path))
    await store.open()
    try:
        account = await store.create_account(
            NewAccount("bench", "b@x.fr", "h", "s" * 64, time.time(), credits=recipients)
        )
        dests = tuple(f"336{i:08d}" for i in range(PER_MESSAGE))
        pending = []
        for _ in range(recipients // PER_MESSAGE):
            message = NewMessage(
                account.id, time.time(), "Bench", 0, "Bonjour", False, True, dests, PER_MESSAGE
            )
            pending.append(store.accept_message(message))
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await store.close()


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(*args: str, env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [str(PASSERELLE), *args], capture_output=True, text=True, check=False, env=env
    )
    seconds = time.monotonic() - started
    print(done.stdout + done.stderr, end="")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"  (whole command {seconds:.1f} s, peak RSS of the commands so far {rss} MiB)\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.db"
        started = time.monotonic()
        asyncio.run(make_source(source, args.recipients))
        print(f"source: {args.recipients} recipients in {time.monotonic() - started:.1f} s\n")
        name = f"passerelle_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin(args.postgres, f'CREATE DATABASE "{name}"'))
        try:
            target = urlsplit(args.postgres)._replace(path=f"/{name}").geturl()
            run("db", "copy", "--from", f"sqlite:///{source}", "--to", target)
            run("db", "copy", "--from", target, "--to", f"sqlite:///{Path(folder) / 'back.db'}")
            copied = f"sqlite:///{Path(folder) / 'copy.db'}"
            run("db", "copy", "--from", f"sqlite:///{source}", "--to", copied)
            env = {**os.environ, "PASSERELLE_DATABASE_URL": f"sqlite:///{source}"}
            run("db", "backup", str(Path(folder) / "backup.db"), env=env)
        finally:
            asyncio.run(admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
