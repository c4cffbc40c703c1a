"""The operator's connector and route pages: every SMPP connector with its bind state
(which process holds it, until when, whether its link is bound), the routing rules,
and the forms that add, replace and remove them.

The bind state and the window use (submits awaiting their response, out of the
window) come from the store: the delivery process that owns a connector records them
with its lease at each refresh (every second), so the console shows them whichever
process serves it.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from passerelle import exceptions as exc
from passerelle.console.web import Access, Ctx, Page
from passerelle.core.modes import BindMode, Coding, IdMode, choices
from passerelle.core.values import Connector

CONNECTORS = "/operateur/connecteurs"
DEFAULT_POSITION = 100

BLANK: dict[str, Any] = {
    "name": "",
    "host": "",
    "port": "2775",
    "system_id": "",
    "system_type": "",
    "bind_mode": BindMode.TRX.value,
    "window": "10",
    "throughput": "0",
    "enquire_link_s": "30",
    "id_mode": IdMode.AS_IS.value,
    "coding": Coding.GSM.value,
    "enabled": True,
}


def form_of(connector: Connector) -> dict[str, Any]:
    """The form's values for replacing `connector` (its password is never shown)."""
    return {
        "name": connector.name,
        "host": connector.host,
        "port": str(connector.port),
        "system_id": connector.system_id,
        "system_type": connector.system_type,
        "bind_mode": connector.bind_mode.value,
        "window": str(connector.window),
        "throughput": f"{connector.throughput:g}",
        "enquire_link_s": f"{connector.enquire_link_s:g}",
        "id_mode": connector.id_mode.value,
        "coding": connector.coding.value,
        "enabled": connector.enabled,
    }


def posted_form(ctx: Ctx) -> dict[str, Any]:
    """The posted connector form as typed (to show it again), without the password."""
    values: dict[str, Any] = {key: ctx.field(key) for key in BLANK if key != "enabled"}
    values["enabled"] = bool(ctx.field("enabled"))
    return values


def whole(value: str, label: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high` (InvalidValue otherwise)."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(high)):
        raise exc.InvalidValue(f"{label}: a whole number from {low} to {high}")
    number = int(value)
    if not low <= number <= high:
        raise exc.InvalidValue(f"{label}: a whole number from {low} to {high}")
    return number


def decimal(value: str, label: str, low: float) -> float:
    """`value` as a finite number, at least `low` (InvalidValue otherwise)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < low or len(value) > 12:
        raise exc.InvalidValue(f"{label}: a number, at least {low:g}")
    return number


def one_of(value: str, label: str, mode: Any) -> Any:
    """`value` as a member of the enum `mode` (InvalidValue otherwise)."""
    if value not in choices(mode):
        raise exc.InvalidValue(f"{label}: one of {', '.join(choices(mode))}")
    return mode(value)


def parse_connector(ctx: Ctx, stored: dict[str, Connector]) -> Connector:
    """The connector of the posted form; an empty password keeps the stored one."""
    name = ctx.field("name")
    password = ctx.secret("password")
    if not password and name in stored:
        password = stored[name].password
    return Connector(
        name=name,
        host=ctx.field("host"),
        port=whole(ctx.field("port"), "port", 1, 65535),
        system_id=ctx.field("system_id"),
        password=password,
        system_type=ctx.field("system_type"),
        bind_mode=one_of(ctx.field("bind_mode"), "bind mode", BindMode),
        window=whole(ctx.field("window"), "window", 1, 1000),
        throughput=decimal(ctx.field("throughput") or "0", "throughput", 0),
        enquire_link_s=decimal(ctx.field("enquire_link_s") or "30", "enquire link", 1),
        id_mode=one_of(ctx.field("id_mode"), "id mode", IdMode),
        coding=one_of(ctx.field("coding"), "coding", Coding),
        enabled=bool(ctx.field("enabled")),
    )


async def show(
    ctx: Ctx,
    status: int = 200,
    error: str = "",
    form: dict[str, Any] | None = None,
    route_form: dict[str, str] | None = None,
) -> Response:
    """The connectors and routes page (with an error and the forms as posted)."""
    gateway = ctx.gateway
    connectors = await gateway.connectors()
    routes = await gateway.routes()
    if form is None:
        editing = next((c for c in connectors if c.name == ctx.field("edit")), None)
        form = form_of(editing) if editing is not None and ctx.request.method == "GET" else BLANK
    naming = {c.name: [r.id for r in routes if c.name in r.route.connectors] for c in connectors}
    return ctx.render(
        "operator_connectors.html",
        status=status,
        error=error,
        connectors=connectors,
        owners=await gateway.store.connector_owners(),
        routes=routes,
        naming=naming,
        form=form,
        editing=bool(form.get("name")) and any(c.name == form["name"] for c in connectors),
        route_form=route_form or {"prefix": "", "connectors": "", "position": ""},
        bind_modes=choices(BindMode),
        id_modes=choices(IdMode),
        codings=choices(Coding),
        default_position=DEFAULT_POSITION,
        now=gateway.now(),
        quote=quote,
    )


def failure(ctx: Ctx, error: exc.AdminError) -> tuple[int, str]:
    """The status and the message of a refused change."""
    status = 404 if isinstance(error, exc.NotFound) else 400
    if isinstance(error, exc.UnknownConnector):
        status = 400  # a route naming a missing connector: the form is wrong
    return status, ctx.t("op.refused") + str(error)


async def connectors(ctx: Ctx) -> Response:
    """``/operateur/connecteurs``: connectors and routes; posted, add or replace a
    connector (same name: replaced)."""
    if ctx.request.method != "POST":
        return await show(ctx)
    stored = {c.name: c for c in await ctx.gateway.connectors()}
    try:
        connector = parse_connector(ctx, stored)
        await ctx.gateway.add_connector(connector)
    except exc.AdminError as error:
        status, message = failure(ctx, error)
        return await show(ctx, 400 if status == 404 else status, message, posted_form(ctx))
    done = "op.connector.replaced" if connector.name in stored else "op.connector.added"
    return ctx.redirect(CONNECTORS, ok=done)


async def remove_connector(ctx: Ctx) -> Response:
    """``/operateur/connecteurs/{name}/supprimer`` (POST): delete a connector; with
    ``force``, the routes naming it go with it (else they block it)."""
    name = ctx.request.path_params["name"]
    try:
        await ctx.gateway.remove_connector(name, force=bool(ctx.field("force")))
    except exc.AdminError as error:
        status, message = failure(ctx, error)
        return await show(ctx, status, message)
    return ctx.redirect(CONNECTORS, ok="op.connector.removed")


async def routes(ctx: Ctx) -> Response:
    """``/operateur/routes``: the same page; posted, add a rule (``prefix``, empty or
    ``default`` for every number, ``connectors`` a,b in failover order, ``position``)."""
    if ctx.request.method != "POST":
        return await show(ctx)
    posted = {key: ctx.field(key) for key in ("prefix", "connectors", "position")}
    prefix = "" if posted["prefix"] in ("default", "*") else posted["prefix"]
    try:
        position = whole(posted["position"] or str(DEFAULT_POSITION), "position", 0, 999999)
        await ctx.gateway.add_route(prefix, posted["connectors"].split(","), position)
    except exc.AdminError as error:
        status, message = failure(ctx, error)
        return await show(ctx, 400 if status == 404 else status, message, route_form=posted)
    return ctx.redirect(CONNECTORS, ok="op.route.added")


async def remove_route(ctx: Ctx) -> Response:
    """``/operateur/routes/{route_id}/supprimer`` (POST): delete a rule."""
    raw = ctx.request.path_params["route_id"]
    try:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise exc.NotFound(f"no route with id {raw}")
        await ctx.gateway.remove_route(int(raw))
    except exc.AdminError as error:
        status, message = failure(ctx, error)
        return await show(ctx, status, message)
    return ctx.redirect(CONNECTORS, ok="op.route.removed")


OP = Access.OPERATOR
GET_POST = ("GET", "POST")

PAGES: list[Page] = [
    Page(CONNECTORS, connectors, GET_POST, OP, name="operator_connectors"),
    Page(CONNECTORS + "/{name}/supprimer", remove_connector, ("POST",), OP),
    Page("/operateur/routes", routes, GET_POST, OP, name="operator_routes"),
    Page("/operateur/routes/{route_id}/supprimer", remove_route, ("POST",), OP),
]
