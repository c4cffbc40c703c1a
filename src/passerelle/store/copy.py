"""`passerelle db copy`: move an installation from one database to another (SQLite to
PostgreSQL typically; PostgreSQL to SQLite and SQLite to SQLite too), then verify it.

The order of events, each refusing with one line (StoreError) before anything is
written to the target:

1. the source is opened read-only, in one snapshot (a REPEATABLE READ READ ONLY
   transaction on PostgreSQL, a read transaction on SQLite's WAL): the copy sees one
   consistent state even if a gateway were still writing, and never writes the source;
2. the source must be at the newest migration (else: run ``passerelle db upgrade``);
3. the target must hold no row in any table: checked before its migrations (so a
   non-empty target at an older revision is not even migrated), then again inside the
   copy's transaction;
4. every table of `schema.metadata` but those of `NOT_COPIED` is streamed in foreign-key
   order, `CHUNK` rows at a time (asyncpg's COPY on PostgreSQL, ``executemany`` on
   SQLite), in ONE transaction on the target, which locks its tables meanwhile;
5. ids given from now on on the target stay above every id the source gave out: each
   PostgreSQL sequence is set past the largest copied id (and past the source's own
   sequence); SQLite's ``sqlite_sequence`` row of ``callback_events`` is carried, since
   event ids are the receivers' idempotency key;
6. verification, still inside the transaction: row counts equal table by table, and
   each account's credits equal on both sides and equal to its ledger sum on the target.
   Only then is the transaction committed: a failed verification (or an interruption,
   or any error) leaves the target migrated and empty, ready for the same command again.

``connector_owners``, ``delivery_workers`` and ``request_counters`` are not copied: their
rows are the leases, heartbeats and rate windows of the processes running on the source
(on the source's clock); the target's first gateway claims its connectors afresh. A
live lease still counts as a row in step 3: a target a gateway is serving is refused.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

import asyncpg
from alembic.script import ScriptDirectory
from sqlalchemy import Table

from passerelle.exceptions import ConfigError, StoreError
from passerelle.store import migrate
from passerelle.store.copy_ends import End, open_end
from passerelle.store.location import database_file, prepare_file, safe_url
from passerelle.store.schema import metadata

CHUNK = 5_000  # rows in memory at once, per table
TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)  # foreign-key order
# live leases and counters of the source's processes, meaningless anywhere else
NOT_COPIED = frozenset({"connector_owners", "delivery_workers", "request_counters"})
COPIED: tuple[Table, ...] = tuple(t for t in TABLES if t.name not in NOT_COPIED)
_FAILURES = (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


@dataclass(frozen=True, slots=True)
class Verification:
    """What comparing a copy with its source found."""

    counts: dict[str, tuple[int, int]]  # table: (rows on the source, rows on the target)
    accounts: int  # accounts compared
    problems: list[str] = field(default_factory=list)  # one sentence each

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What `copy_database` did."""

    source: str  # URLs without passwords
    target: str
    rows: dict[str, int]  # rows copied, per table, in copy order
    verification: Verification
    seconds: float
    committed: bool  # False: verification failed and the target was rolled back
    skipped: tuple[str, ...] = tuple(sorted(NOT_COPIED))  # tables left out on purpose

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def newest_revision() -> str:
    """The newest migration's revision."""
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def copy_database(
    source_url: str,
    target_url: str,
    chunk: int = CHUNK,
    progress: Callable[[str, int], object] | None = None,
) -> CopyReport:
    """Copy every row of `source_url` into the empty database at `target_url`, verify
    it and commit (see the module's docstring); `progress(table, rows)` after each table."""
    started = time.monotonic()
    _refuse_same(_checked(source_url, "--from"), _checked(target_url, "--to"))
    try:
        rows, verification = await _copy(source_url, target_url, chunk, progress)
    except _FAILURES as error:
        raise StoreError(
            f"copy to {safe_url(target_url)} failed (the target keeps no row): {_line(error)}"
        ) from None
    return CopyReport(
        safe_url(source_url),
        safe_url(target_url),
        rows,
        verification,
        time.monotonic() - started,
        verification.ok,
    )


async def _copy(
    source_url: str,
    target_url: str,
    chunk: int,
    progress: Callable[[str, int], object] | None,
) -> tuple[dict[str, int], Verification]:
    source = await open_end(source_url, write=False)
    try:
        await source.snapshot()
        await _check_revision(source)
        target_path = database_file(target_url)
        if target_path is not None:
            try:
                prepare_file(target_path, target_url)  # created 0600, folder checked
            except ConfigError as error:
                raise _renamed(error, "--to") from None
        target = await open_end(target_url, write=True)
        try:
            await _refuse_filled(target)  # before migrations: a full target is not touched
            migrate.upgrade(target_url)
            await target.begin(TABLES)
            await _refuse_filled(target)
            rows = await _copy_rows(source, target, chunk, progress)
            verification = await _verify(source, target)
            await asyncio.sleep(0)  # an interruption (Ctrl-C cancels us) stops us here
            if verification.ok:
                await target.commit()
            return rows, verification
        finally:
            await target.close()  # rolls back whatever was not committed
    finally:
        await source.close()


async def verify(source_url: str, target_url: str) -> Verification:
    """Compare a finished copy with its source, both read-only (`_verify`)."""
    try:
        source = await open_end(_checked(source_url, "--from"), write=False)
        try:
            target = await open_end(_checked(target_url, "--to"), write=False)
            try:
                await source.snapshot()
                await target.snapshot()
                return await _verify(source, target)
            finally:
                await target.close()
        finally:
            await source.close()
    except _FAILURES as error:
        raise StoreError(f"verification could not read both databases: {_line(error)}") from None


async def _copy_rows(
    source: End, target: End, chunk: int, progress: Callable[[str, int], object] | None
) -> dict[str, int]:
    copied: dict[str, int] = {}
    for table in COPIED:
        count = 0
        async with aclosing(source.rows(table, chunk)) as chunks:  # closed even if cancelled
            async for rows in chunks:
                await target.write(table, rows)
                count += len(rows)
                await asyncio.sleep(0)  # SQLite never waits: let an interruption in
        if table.autoincrement_column is not None:
            top = max(await source.high_water(table), await target.high_water(table))
            await target.set_high_water(table, top)
        copied[table.name] = count
        if progress is not None:
            progress(table.name, count)
    return copied


async def _verify(source: End, target: End) -> Verification:
    """Row counts per table, and each account's credits: equal on both sides, and equal
    to the sum of its ledger deltas on the target."""
    counts = {t.name: (await source.count(t), await target.count(t)) for t in COPIED}
    problems = [
        f"table {name}: {ours} rows on the source, {theirs} on the target"
        for name, (ours, theirs) in counts.items()
        if ours != theirs
    ]
    before = {i: (login, credits) for i, login, credits in await source.balances()}
    after = await target.balances()
    sums = await target.ledger_sums()
    for account_id, login, credits in after:
        was = before.pop(account_id, None)
        total = sums.get(account_id, 0)
        if was is None:
            problems.append(f"account {login!r} (id {account_id}) is not on the source")
        elif was[1] != credits:
            problems.append(
                f"account {login!r} (id {account_id}): {was[1]} credits on the source,"
                f" {credits} on the target"
            )
        if total != credits:
            problems.append(
                f"account {login!r} (id {account_id}): {credits} credits on the target but"
                f" its ledger sums to {total}"
            )
    missing = before.items()
    problems += [f"account {name!r} (id {i}) is missing on the target" for i, (name, _) in missing]
    return Verification(counts, len(after), problems)


def _checked(url: str, option: str) -> str:
    """`url`, or a ConfigError saying how to write it."""
    try:
        database_file(url)
    except ConfigError as error:
        raise _renamed(error, option) from None
    return url


def _renamed(error: ConfigError, option: str) -> ConfigError:
    """`error` naming the command's `option` where `store.location` names the setting:
    these URLs are not PASSERELLE_DATABASE_URL."""
    return ConfigError(str(error).replace("PASSERELLE_DATABASE_URL=", f"{option} "))


def _refuse_same(source_url: str, target_url: str) -> None:
    paths = database_file(source_url), database_file(target_url)
    same = (
        os.path.realpath(paths[0]) == os.path.realpath(paths[1])
        if paths[0] is not None and paths[1] is not None
        else source_url == target_url
    )
    if same:
        raise StoreError(f"--from and --to name the same database ({safe_url(source_url)})")


async def _check_revision(source: End) -> None:
    found, newest = await source.revision(), newest_revision()
    if found is None:
        raise StoreError(f"{source.url} is not a Passerelle database (no migration revision)")
    if found != newest:
        raise StoreError(
            f"{source.url} is at migration {found}, not the newest ({newest}): run"
            f" `PASSERELLE_DATABASE_URL={source.url} passerelle db upgrade` first"
        )


async def _refuse_filled(target: End) -> None:
    filled = await target.filled(TABLES)
    if filled:
        raise StoreError(
            f"{target.url} is not empty (rows in {', '.join(filled)}): db copy only fills"
            " an empty database; name a new one"
        )


def _line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
