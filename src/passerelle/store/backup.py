"""`passerelle db backup FILE`: an online, consistent copy of the SQLite database.

SQLite's backup API copies the database page by page from a read-only connection. It
runs in one step, inside one read transaction: on the WAL that is one snapshot (every
transaction committed before it started, none after), and the gateway's writers go
on meanwhile (a WAL reader blocks no writer; checkpoints wait for it). The copy is
written to a temporary file beside FILE, created 0600 (it holds what the database
holds: password hashes, signing secrets, numbers and texts), switched to the rollback
journal (a single self-contained file, no ``-wal`` to carry along), checked with
``PRAGMA quick_check``, synced, then given its name: FILE is either absent, the old
file (``--force``) or the whole backup, never a part of one.

A PostgreSQL database is backed up with PostgreSQL's own ``pg_dump`` (README).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from passerelle.exceptions import InvalidValue, StoreError
from passerelle.store.location import PRIVATE, database_file, is_postgres, safe_url


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What `backup_sqlite` wrote."""

    path: Path  # absolute
    size: int  # bytes
    seconds: float


def backup_sqlite(database_url: str, destination: str | Path, force: bool = False) -> BackupReport:
    """Write a consistent copy of the SQLite database at `database_url` to `destination`.

    InvalidValue for a PostgreSQL URL (pg_dump's job), for an existing `destination`
    without `force` and for the database file itself; StoreError when the database
    cannot be read or the copy written (the destination is then left as it was)."""
    started = time.monotonic()
    if is_postgres(database_url):
        raise InvalidValue(
            f"{safe_url(database_url)} is a PostgreSQL database: back it up with pg_dump"
            " (README, 'Backups and moving a database'); db backup copies SQLite files"
        )
    path = database_file(database_url)
    if path is None:
        raise InvalidValue(f"{database_url} keeps nothing on disk: there is nothing to back up")
    if not Path(path).is_file():
        raise StoreError(f"no database file at {path} (PASSERELLE_DATABASE_URL={database_url})")
    target = Path(destination).absolute()
    if target.exists() and target.samefile(path):
        raise InvalidValue(f"{target} is the database itself: name another file")
    if target.exists() and not force:
        raise InvalidValue(f"{target} exists: name a new file, or use --force to replace it")
    if not target.parent.is_dir():
        raise InvalidValue(f"{target.parent} is not a directory")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _write(path, temporary)
        _publish(temporary, target, force)
    except (sqlite3.Error, OSError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StoreError(f"backup of {path} to {target} failed: {first}") from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{temporary}{suffix}").unlink()
    return BackupReport(target, target.stat().st_size, time.monotonic() - started)


def _write(path: str, temporary: Path) -> None:
    """The backup into `temporary`, created 0600, self-contained, checked and synced."""
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE))
    uri = Path(path).resolve().as_uri() + "?mode=ro"  # the database is only read
    source = sqlite3.connect(uri, uri=True)
    try:
        source.execute("PRAGMA busy_timeout = 10000")
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one snapshot
            copy.execute("PRAGMA journal_mode = DELETE").fetchone()
            verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"the copy fails its integrity check: {verdict}")
        finally:
            copy.close()
    finally:
        source.close()
    descriptor = os.open(temporary, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(temporary: Path, target: Path, force: bool) -> None:
    """Give the finished backup its name: atomically, and without `force` never over a
    file that appeared meanwhile (a hard link fails on an existing name)."""
    if force:
        os.replace(temporary, target)
    else:
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise InvalidValue(
                f"{target} exists: name a new file, or use --force to replace it"
            ) from None
    folder = os.open(target.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
