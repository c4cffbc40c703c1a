"""The `passerelle` command: serve, db, account (DESIGN section 8)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from passerelle import __version__
from passerelle.core.states import statut_of_message
from passerelle.exceptions import AdminError, ConfigError, StoreError
from passerelle.logs import setup_logging
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.base import open_store

T = TypeVar("T")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(2)


def _prepare(settings: Settings) -> None:
    """Apply migrations (unless PASSERELLE_MIGRATE_ON_START=false) for sqlite URLs."""
    if settings.migrate_on_start and settings.database_url.startswith("sqlite:///"):
        from passerelle.store import migrate  # Alembic is heavy: only where migrating

        migrate.upgrade(settings.database_url)


def _with_gateway(settings: Settings, work: Callable[[Gateway], Awaitable[T]]) -> T:
    async def run() -> T:
        store = open_store(settings.database_url, settings.sqlite_synchronous)
        await store.open()
        gateway = Gateway(store, settings)
        try:
            return await work(gateway)
        finally:
            gateway.close()
            await store.close()

    try:
        _prepare(settings)
        return asyncio.run(run())
    except AdminError as error:
        err.print(f"[red]error:[/red] {type(error).__name__}: {error}")
        sys.exit(1)
    except (ConfigError, StoreError) as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(3)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="passerelle")
def main() -> None:
    """Passerelle: the Connect-Mobile HTTP SMS API, delivered over SMPP.

    Settings come from PASSERELLE_* environment variables (see the README).
    """


@main.command()
@click.option("--host", help="Address to listen on (PASSERELLE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on, 0 for any (PASSERELLE_PORT, 8080).")
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the port actually bound to this file (useful with --port 0).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="API processes sharing the socket (PASSERELLE_WORKERS, default 1); worker 0 "
    "also runs delivery, worker 1 the callback sender.",
)
def serve(host: str | None, port: int | None, port_file: Path | None, workers: int | None) -> None:
    """Run the gateway: legacy API, delivery, callbacks, health and metrics."""
    from passerelle.api.app import create_app

    overrides = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    settings = _settings(**overrides)
    setup_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("passerelle")
    try:
        _prepare(settings)
        app = create_app(settings) if settings.workers == 1 else None
    except (ConfigError, StoreError) as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(3)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        err.print(f"[red]error:[/red] cannot listen on {settings.host}:{settings.port}: {error}")
        sys.exit(3)
    sock.listen(4096)
    bound = sock.getsockname()[1]
    log.info(
        "listening",
        extra={
            "url": f"http://{settings.host}:{bound}",
            "port": bound,
            "workers": settings.workers,
        },
    )
    if app is None:
        from passerelle.workers import Supervisor

        supervisor = Supervisor(sock, settings.workers, {**overrides, "migrate_on_start": False})
        if port_file is not None:
            port_file.write_text(str(bound))
        sys.exit(supervisor.run(settings.shutdown_grace_s))
    if port_file is not None:
        port_file.write_text(str(bound))
    run_server(app, sock, settings)


def run_server(app: Any, sock: socket.socket, settings: Settings) -> None:
    """Serve `app` on the listening `sock` until SIGTERM/SIGINT (graceful, exit 0)."""
    import uvicorn

    GracefulServer = _graceful_server_class()
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        backlog=4096,
    )
    GracefulServer(config).run(sockets=[sock])


def _graceful_server_class() -> type[Any]:
    import uvicorn

    class Graceful(uvicorn.Server):
        """uvicorn's server, but a SIGTERM/SIGINT that ended in a clean shutdown exits 0.

        uvicorn re-raises the caught signal after shutting down, so the process would
        die "of SIGTERM" even though every request finished and every write committed.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            original = {s: signal.signal(s, self.handle_exit) for s in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Graceful


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _sim_modes() -> list[Any]:
    from passerelle.simulator import Mode

    return list(Mode)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to PASSERELLE_DATABASE_URL."""
    settings = _settings()
    try:
        from passerelle.store import migrate

        migrate.upgrade(settings.database_url)
    except Exception as error:
        err.print(f"[red]error:[/red] migration failed: {error}")
        sys.exit(3)
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


@main.group()
def account() -> None:
    """Customer accounts and credits."""


@account.command("create")
@click.argument("login")
@click.option("--email", required=True, help="Contact e-mail of the account.")
@click.option(
    "--api-password", help="API password (apipasse); generated and shown once if omitted."
)
@click.option("--credits", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--callback-url", help="URL that receives delivery receipts.")
@click.option("--rate-limit", type=click.FloatRange(min=0), help="Requests/s (0 = unlimited).")
def account_create(
    login: str,
    email: str,
    api_password: str | None,
    credits: int,
    callback_url: str | None,
    rate_limit: float | None,
) -> None:
    """Create an activated account, gateway option on."""
    settings = _settings()
    password = api_password or secrets.token_urlsafe(12)
    created = _with_gateway(
        settings,
        lambda g: g.create_account(login, email, password, credits, callback_url, rate_limit),
    )
    out.print(f"account {created.login} created, {created.credits} credits")
    if api_password is None:
        out.print(f"API password (shown once): {password}")


@account.command("credit", context_settings={"ignore_unknown_options": True})
@click.argument("login")
@click.argument("amount", type=int)
@click.option("--reason", default="", help="Why (recorded in the ledger).")
def account_credit(login: str, amount: int, reason: str) -> None:
    """Add AMOUNT credits (a negative AMOUNT removes them, never below zero)."""
    settings = _settings()
    balance = _with_gateway(settings, lambda g: g.credit(login, amount, reason=reason))
    out.print(f"{login}: {balance} credits")


@account.command("set")
@click.argument("login")
@click.option("--email")
@click.option("--api-password", help="New API password.")
@click.option("--activated/--not-activated", default=None)
@click.option("--gateway/--no-gateway", default=None, help="The Gateway SMS option.")
@click.option("--suspended/--not-suspended", default=None)
@click.option("--rate-limit", type=click.FloatRange(min=0))
@click.option("--callback-url")
@click.option("--callback-method", type=click.Choice(["POST", "GET"]))
def account_set(login: str, **options: Any) -> None:
    """Change account settings."""
    names = {"gateway": "gateway_enabled"}
    changes = {names.get(k, k): v for k, v in options.items() if v is not None}
    if not changes:
        err.print("[red]error:[/red] nothing to change (see --help)")
        sys.exit(2)
    settings = _settings()
    _with_gateway(settings, lambda g: g.update_account(login, changes))
    out.print(f"account {login} updated: {', '.join(sorted(changes))}")


@account.command("show")
@click.argument("login")
@click.option("--messages", type=click.IntRange(min=0), default=10, show_default=True)
def account_show(login: str, messages: int) -> None:
    """Balance, state, callback settings and last messages of an account."""
    settings = _settings()
    view = _with_gateway(settings, lambda g: g.show_account(login, messages))
    a = view.account
    state = "usable" if a.usable else "blocked (14)"
    out.print(f"[bold]{a.login}[/bold] <{a.email}>  state: {state}")
    out.print(f"  activated: {a.activated}  gateway: {a.gateway_enabled}  suspended: {a.suspended}")
    out.print(f"  balance: {view.balance} SMS  (ledger sum {view.ledger_sum})")
    out.print(f"  rate limit: {a.rate_limit if a.rate_limit is not None else 'default'}")
    out.print(f"  callback: {a.callback_method} {a.callback_url or '-'}")
    out.print(f"  callback secret: {a.callback_secret}")
    out.print(f"  messages: {view.message_count}  created: {_when(a.created_at)}")
    if view.messages:
        table = Table("msgid", "date", "sender", "recipients", "cost", "statut", "text")
        for m in view.messages:
            table.add_row(
                str(m.msgid),
                _when(m.created_at),
                m.sender,
                str(len(m.recipients)),
                str(m.cost),
                str(statut_of_message(r.state for r in m.recipients)),
                m.text[:40],
            )
        out.print(table)
    if view.ledger:
        table = Table("date", "delta", "kind", "actor", "reason", "msgid")
        for e in view.ledger:
            table.add_row(
                _when(e.at), f"{e.delta:+d}", e.kind, e.actor, e.reason, str(e.msgid or "-")
            )
        out.print(table)


@main.group()
def connector() -> None:
    """SMPP connectors to operators (applied by a running gateway without restart)."""


@connector.command("add")
@click.argument("name")
@click.option("--host", required=True, help="SMSC address.")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="SMSC port.")
@click.option("--system-id", required=True, help="SMPP system_id (login).")
@click.option("--password", required=True, help="SMPP password (8 characters at most).")
@click.option("--system-type", default="", help="SMPP system_type, if the operator wants one.")
@click.option(
    "--bind",
    "bind_mode",
    type=click.Choice(["trx", "tx+rx"]),
    default="trx",
    show_default=True,
    help="One transceiver, or a transmitter and a receiver.",
)
@click.option(
    "--window",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Outstanding submits at most.",
)
@click.option(
    "--throughput",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Submits per second at most (0 = unlimited).",
)
@click.option(
    "--enquire-link",
    "enquire_link_s",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between enquire_link.",
)
@click.option(
    "--id-mode",
    type=click.Choice(["as-is", "hex-to-dec", "dec-to-hex"]),
    default="as-is",
    show_default=True,
    help="How receipt ids relate to submit ids.",
)
@click.option("--coding", type=click.Choice(["gsm", "latin1"]), default="gsm", show_default=True)
@click.option("--disabled", is_flag=True, help="Store it without binding.")
def connector_add(name: str, disabled: bool, **options: Any) -> None:
    """Create or replace connector NAME."""
    from passerelle.store.base import Connector

    settings = _settings()
    conn = Connector(name=name, enabled=not disabled, **options)
    _with_gateway(settings, lambda g: g.add_connector(conn))
    out.print(f"connector {name} saved ({options['host']}:{options['port']})")


@connector.command("list")
def connector_list() -> None:
    """Every connector."""
    settings = _settings()
    rows = _with_gateway(settings, lambda g: g.store.list_connectors())
    table = Table(
        "name",
        "address",
        "system_id",
        "bind",
        "window",
        "throughput",
        "id mode",
        "coding",
        "enabled",
    )
    for c in rows:
        table.add_row(
            c.name,
            f"{c.host}:{c.port}",
            c.system_id,
            c.bind_mode,
            str(c.window),
            str(c.throughput or "-"),
            c.id_mode,
            c.coding,
            str(c.enabled),
        )
    out.print(table)


@connector.command("remove")
@click.argument("name")
def connector_remove(name: str) -> None:
    """Delete connector NAME."""
    settings = _settings()
    _with_gateway(settings, lambda g: g.remove_connector(name))
    out.print(f"connector {name} removed")


@main.group()
def route() -> None:
    """Routing rules: number prefixes to connectors, tried in position order."""


@route.command("add")
@click.argument("prefix")
@click.argument("connectors")
@click.option(
    "--position",
    type=int,
    default=100,
    show_default=True,
    help="Rules are tried from the lowest position up.",
)
def route_add(prefix: str, connectors: str, position: int) -> None:
    """Send numbers starting with PREFIX ('' or 'default' for all) to CONNECTORS (a,b,...)."""
    settings = _settings()
    prefix = "" if prefix in ("default", "*") else prefix
    route_id = _with_gateway(
        settings, lambda g: g.add_route(prefix, connectors.split(","), position)
    )
    out.print(f"route {route_id} added: {prefix or '(default)'} → {connectors}")


@route.command("list")
def route_list() -> None:
    """Every rule, in the order they are tried."""
    settings = _settings()
    rows = _with_gateway(settings, lambda g: g.store.list_routes())
    table = Table("id", "position", "prefix", "connectors (failover order)")
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.route.position),
            r.route.prefix or "(default)",
            ", ".join(r.route.connectors),
        )
    out.print(table)


@route.command("remove")
@click.argument("route_id", type=int)
def route_remove(route_id: int) -> None:
    """Delete rule ROUTE_ID."""
    settings = _settings()
    _with_gateway(settings, lambda g: g.remove_route(route_id))
    out.print(f"route {route_id} removed")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=2775,
    show_default=True,
    help="Port; 0 picks a free one (logged, and written to the stats file).",
)
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host.")
@click.option("--system-id", help="Required bind system_id (default: accept any).")
@click.option("--password", help="Required bind password (default: accept any).")
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between submit_sm and its receipt.",
)
@click.option("--deliver-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True)
@click.option("--expire-ratio", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--reject-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="The rest after delivered, expired and rejected ends UNDELIV.",
)
@click.option(
    "--outcome-by",
    type=click.Choice(["sequence", "destination"]),
    default="sequence",
    show_default=True,
    help="Outcome from the message number (exact ratios) or the destination.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--id-format",
    type=click.Choice(["decimal", "hex", "hex-resp", "hex-receipt"]),
    default="decimal",
    show_default=True,
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice([m.value for m in _sim_modes()]),
    help="Failure mode (repeatable).",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="N of the every-Nth-submit modes.",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="throttle/queue-full: answer above this submits/s (0: every Nth).",
)
@click.option(
    "--receipt-window",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Outstanding receipts per session.",
)
@click.option(
    "--receipt-retry",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds before re-sending a receipt answered with an error.",
)
@click.option(
    "--id-start",
    type=click.IntRange(min=0),
    help="First message number (default: the clock in µs).",
)
@click.option(
    "--reject-status",
    type=click.IntRange(0, 0xFFFFFFFF),
    default=0x0B,
    show_default=True,
    help="command_status answered by --mode reject.",
)
@click.option(
    "--malformation",
    type=click.Choice(["unknown-command", "truncated-body", "bad-length"]),
    default="unknown-command",
    show_default=True,
    help="What --mode malformed-pdu sends.",
)
@click.option(
    "--smsc-system-id",
    default="passerelle-sim",
    show_default=True,
    help="system_id sent in bind_resp.",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the id counter and unacknowledged receipts across restarts.",
)
@click.option(
    "--stats-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write counters as JSON every 0.5 s.",
)
def simulator(
    modes: tuple[str, ...], outcome_by: str, id_format: str, malformation: str, **options: Any
) -> None:
    """Run the SMSC simulator: a real SMPP 3.4 server with receipts and failure modes."""
    from passerelle.simulator import (
        IdFormat,
        Malformation,
        Mode,
        OutcomeKey,
        SimulatorConfig,
        run_standalone,
    )

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format)
    try:
        config = SimulatorConfig(
            modes=frozenset(Mode(m) for m in modes),
            outcome_by=OutcomeKey(outcome_by),
            id_format=IdFormat(id_format),
            malformation=Malformation(malformation),
            **options,
        )
    except ConfigError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(2)
    try:
        import uvloop

        uvloop.run(run_standalone(config))
    except OSError as error:
        err.print(f"[red]error:[/red] cannot listen: {error}")
        sys.exit(3)


@account.command("rotate-secret")
@click.argument("login")
def account_rotate_secret(login: str) -> None:
    """Give LOGIN a new callback signing secret (printed; the old one stops at once)."""
    settings = _settings()
    secret = _with_gateway(settings, lambda g: g.rotate_secret(login))
    out.print(f"new callback secret of {login}: {secret}")


@main.group()
def callbacks() -> None:
    """Delivery-receipt callbacks sent to customers' URLs."""


@callbacks.command("list")
@click.option("--login", help="Only this account's events.")
@click.option("--failed", is_flag=True, help="Only events that failed at least once.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def callbacks_list(login: str | None, failed: bool, limit: int) -> None:
    """The newest callback events with their state and last attempt."""
    settings = _settings()
    rows = _with_gateway(settings, lambda g: g.store.list_callbacks(login, failed, limit))
    table = Table(
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
