"""`passerelle db` (upgrade, purge, copy, backup) and `passerelle callbacks` (list, replay)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click
from rich.text import Text

from passerelle.cli import output
from passerelle.cli.common import _fail, _prepare, _settings, _when, _with_gateway, err, out
from passerelle.exceptions import AdminError, ConfigError, StoreError

if TYPE_CHECKING:
    from passerelle.wiring import CopyReport


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to PASSERELLE_DATABASE_URL."""
    settings = _settings()
    try:
        _prepare(settings, migrate=True)
    except (ConfigError, StoreError) as error:
        _fail(error)
    from passerelle.wiring import safe_url

    out.print(f"database at {safe_url(settings.database_url)} is up to date")


@db.command("purge")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    help="Age limit in days (default: PASSERELLE_RETENTION_DAYS, 180).",
)
def db_purge(older_than_days: int | None) -> None:
    """Delete messages older than the retention period, with their recipients and
    callback events (the ledger is kept); `serve` does the same every hour."""
    settings = _settings()
    days = older_than_days if older_than_days is not None else settings.retention_days
    if days == 0:
        out.print("retention is off (PASSERELLE_RETENTION_DAYS=0): nothing purged")
        return
    purged = _with_gateway(settings, lambda gateway: gateway.purge_old(days))
    out.print(f"purged {purged} message(s) older than {days} day(s)")


@db.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="The database to copy.")
@click.option("--to", "target", required=True, metavar="URL", help="An empty database.")
def db_copy(source: str, target: str) -> None:
    """Copy every account, message, recipient, ledger row, callback, connector and route
    from one database to another, then verify the copy.

    URLs are sqlite:///path.db or postgresql://user@host:5432/database. Stop the gateway
    first: the copy reads one snapshot of the source (it never writes it), so anything
    the gateway accepts meanwhile would stay behind. The target is migrated and must be
    empty; it is written in one transaction, verified (row counts, every account's
    credits and ledger) and committed only then: interrupted or refused, it is left
    empty and the same command can run again. Leases of connectors are not copied.
    """
    from passerelle import wiring

    def done(table: str, rows: int) -> None:
        out.print(f"  {table:<20} {_grouped(rows):>12}")

    finished: list[CopyReport] = []

    async def run() -> None:
        finished.append(await wiring.copy_database(source, target, progress=done))

    try:
        asyncio.run(run())
    except (ConfigError, StoreError) as error:
        _fail(error)
    except KeyboardInterrupt:
        if not finished:  # else it was committed: say so below
            err.print(
                Text.assemble(
                    ("error:", "red"),
                    " interrupted: nothing was committed, the"
                    " target keeps no row; run the same command again",
                ),
                soft_wrap=True,
            )
            sys.exit(130)
    report = finished[0]
    check = report.verification
    if not check.ok:
        err.print(
            Text.assemble(
                ("error:", "red"),
                f" verification failed, the copy was rolled back ({report.target} is left empty):",
            ),
            soft_wrap=True,
        )
        for problem in check.problems:
            err.print(Text(f"  {problem}"), soft_wrap=True)
        sys.exit(3)
    for table in report.skipped:
        why = "(leases and counters of the processes on the source)"
        out.print(f"  {table:<20} {'not copied':>12} {why}")
    rate = report.total / report.seconds if report.seconds > 0 else 0.0
    accounts = f"{check.accounts} account" + ("" if check.accounts == 1 else "s")
    out.print(
        f"verified: row counts equal in {len(check.counts)} tables; {accounts} with the same"
        " credits on both sides, each equal to its ledger sum"
    )
    out.print(
        Text(
            f"copied {_grouped(report.total)} rows from {report.source} to {report.target}"
            f" in {report.seconds:.1f} s ({_grouped(round(rate))} rows/s)"
        )
    )


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def db_backup(file: str, force: bool) -> None:
    """Write a consistent copy of the SQLite database to FILE, while the gateway runs.

    FILE is readable by its owner only; it is a database of its own: set
    PASSERELLE_DATABASE_URL=sqlite:///FILE to serve it. PostgreSQL: use pg_dump.
    """
    from passerelle import wiring

    settings = _settings()
    try:
        report = wiring.backup_database(settings.database_url, file, force)
    except AdminError as error:
        err.print(Text.assemble(("error:", "red"), f" {error}"), soft_wrap=True)
        sys.exit(1)
    except (ConfigError, StoreError) as error:
        _fail(error)
    size = _grouped(report.size)
    out.print(Text(f"backup written to {report.path}: {size} bytes in {report.seconds:.2f} s"))


def _grouped(number: int) -> str:
    """`number` with its thousands apart: 123 456."""
    return f"{number:,}".replace(",", " ")


@click.group()
def callbacks() -> None:
    """Delivery-receipt callbacks sent to customers' URLs."""


@callbacks.command("list")
@click.option("--login", help="Only this account's events.")
@click.option("--failed", is_flag=True, help="Only events that failed at least once.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def callbacks_list(login: str | None, failed: bool, limit: int) -> None:
    """The newest callback events with their state and last attempt."""
    settings = _settings()
    rows = _with_gateway(settings, lambda g: g.callbacks(login, failed, limit))
    table = output.table(
        "event", "login", "msgid", "dest", "statut", "stat", "state", "attempts", "last", "next"
    )
    for e in rows:
        last = str(e.last_status or "") + (f" {e.last_error}" if e.last_error else "")
        table.add_row(
            str(e.id),
            e.login,
            str(e.msgid),
            e.dest,
            str(e.statut),
            e.stat,
            e.state.name.lower(),
            str(e.attempts),
            last.strip() or "-",
            _when(e.next_attempt_at) if e.state.name == "PENDING" else "-",
        )
    out.print(table)


@callbacks.command("replay")
@click.argument("event_id", type=int)
def callbacks_replay(event_id: int) -> None:
    """Send callback EVENT_ID again, now (whatever its state)."""
    settings = _settings()
    _with_gateway(settings, lambda g: g.replay_callback(event_id))
    out.print(f"callback event {event_id} queued again")
