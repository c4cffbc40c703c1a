"""`passerelle db` (upgrade, purge) and `passerelle callbacks` (list, replay)."""

from __future__ import annotations

import click

from passerelle.cli import output
from passerelle.cli.common import _fail, _prepare, _settings, _when, _with_gateway, out
from passerelle.exceptions import ConfigError, StoreError


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
    out.print(f"database at {settings.database_url} is up to date")


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
