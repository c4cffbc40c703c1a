"""`passerelle connector` and `passerelle route`: where messages go, and over which link."""

from __future__ import annotations

from typing import Any

import click

from passerelle.cli import output
from passerelle.cli.common import _settings, _with_gateway, out
from passerelle.cli.output import plain
from passerelle.core.modes import BindMode, Coding, IdMode, choices


@click.group()
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
    type=click.Choice(choices(BindMode)),
    default=BindMode.TRX.value,
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
    type=click.Choice(choices(IdMode)),
    default=IdMode.AS_IS.value,
    show_default=True,
    help="How receipt ids relate to submit ids.",
)
@click.option(
    "--coding", type=click.Choice(choices(Coding)), default=Coding.GSM.value, show_default=True
)
@click.option("--disabled", is_flag=True, help="Store it without binding.")
def connector_add(name: str, disabled: bool, **options: Any) -> None:
    """Create or replace connector NAME."""
    from passerelle.core.values import Connector

    settings = _settings()
    options["bind_mode"] = BindMode(options["bind_mode"])
    options["id_mode"] = IdMode(options["id_mode"])
    options["coding"] = Coding(options["coding"])
    conn = Connector(name=name, enabled=not disabled, **options)
    _with_gateway(settings, lambda g: g.add_connector(conn))
    out.print(f"connector {name} saved ({options['host']}:{options['port']})")


@connector.command("list")
def connector_list() -> None:
    """Every connector."""
    settings = _settings()
    rows = _with_gateway(settings, lambda g: g.connectors())
    table = output.table(
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
@click.option("--force", is_flag=True, help="Also remove the routes that name NAME.")
def connector_remove(name: str, force: bool) -> None:
    """Delete connector NAME (refused while routes name it, unless --force)."""
    settings = _settings()
    routes = _with_gateway(settings, lambda g: g.remove_connector(name, force))
    out.print(f"connector {plain(name)} removed")
    for row in routes:
        out.print(f"route {plain(row.describe())} removed with it")


@click.group()
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
    """Send numbers starting with PREFIX ('' or 'default' for all) to CONNECTORS (a,b,...),
    which must be existing connectors."""
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
    rows = _with_gateway(settings, lambda g: g.routes())
    table = output.table("id", "position", "prefix", "connectors (failover order)")
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
