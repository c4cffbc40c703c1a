"""`passerelle key`: create, list and revoke an account's API keys (JSON API). A new key
is shown once, alone on the last line of the output, so that scripts can take it."""

from __future__ import annotations

import click
from rich.text import Text

from passerelle.cli import output
from passerelle.cli.common import _settings, _when, _with_gateway, out
from passerelle.core.keys import ApiKey
from passerelle.service import Gateway
from passerelle.service_keys import Created, Keys


@click.group()
def key() -> None:
    """API keys of the JSON API (shown once, stored as a digest)."""


@key.command("create")
@click.argument("login")
@click.option("--name", default="", help="What the key is for (at most 64 characters).")
def key_create(login: str, name: str) -> None:
    """Create an API key for account LOGIN; the key is the last line of the output."""
    settings = _settings()

    async def work(g: Gateway) -> Created:
        return await Keys(g).create(login, name)

    created = _with_gateway(settings, work)
    stored = created.stored
    label = f" ({stored.name})" if stored.name else ""
    out.print(Text(f"key {stored.id}{label} created for {login}."))
    out.print("Keep it now: it is shown once and cannot be read again.")
    out.print(Text(created.key))


@key.command("list")
@click.argument("login")
def key_list(login: str) -> None:
    """The API keys of account LOGIN, newest first (their prefix, never the key)."""
    settings = _settings()

    async def work(g: Gateway) -> list[ApiKey]:
        return await Keys(g).list(login)

    keys = _with_gateway(settings, work)
    if not keys:
        out.print(Text(f"{login} has no API key"))
        return
    table = output.table("id", "name", "prefix", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            Text(k.name or "-"),
            Text(k.prefix + "…"),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
    out.print(table)


@key.command("revoke")
@click.argument("login")
@click.argument("key_id", type=int)
def key_revoke(login: str, key_id: int) -> None:
    """Revoke API key KEY_ID of account LOGIN (at once for new requests)."""
    settings = _settings()

    async def work(g: Gateway) -> None:
        await Keys(g).revoke(login, key_id)

    _with_gateway(settings, work)
    out.print(Text(f"key {key_id} of {login} revoked"))
