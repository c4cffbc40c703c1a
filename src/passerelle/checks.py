"""Checks of what operators type: connector settings and callback URLs.

The service (`service.py`) calls these, so every front door (CLI today, console later)
refuses the same values with the same sentences (InvalidValue). A callback URL whose
host is private is *accepted* (a private network may be intended): `private_target`
only says why the SSRF guard will refuse to call it, so the operator hears it now
rather than from a failed callback later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re

from passerelle import exceptions as exc
from passerelle.core.modes import BindMode, Coding, IdMode, choices
from passerelle.core.values import Connector
from passerelle.webhooks import guard
from passerelle.webhooks.target import target_of

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
BIND_MODES = choices(BindMode)
ID_MODES = choices(IdMode)
CODINGS = choices(Coding)
HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
RESOLVE_TIMEOUT_S = 3.0


def valid_host(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (no brackets), or a DNS host name (RFC 1123
    labels, 253 characters at most, an optional final dot, not all digits)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    name = host.removesuffix(".")
    labels = name.split(".")
    return (
        0 < len(name) <= 253
        and all(HOST_LABEL.fullmatch(label) for label in labels)
        and not all(label.isdigit() for label in labels)
    )


def check_connector(c: Connector) -> None:
    """Refuse connector settings that cannot work (address, SMPP field sizes, modes)."""
    if not c.name or len(c.name) > 64 or not set(c.name) <= NAME_CHARS:
        raise exc.InvalidValue("name: 1 to 64 letters, digits, . _ - @")
    if not valid_host(c.host):
        raise exc.InvalidValue(
            f"host {c.host!r}: give the SMSC's host name or IP address (no spaces, no port)"
        )
    if not 0 < c.port < 65536:
        raise exc.InvalidValue(f"port {c.port}: a TCP port from 1 to 65535")
    if not c.system_id or len(c.system_id) > 15:
        raise exc.InvalidValue("system id: 1 to 15 characters (SMPP limit)")
    if len(c.password) > 8:
        raise exc.InvalidValue("password: at most 8 characters (SMPP limit)")
    if len(c.system_type) > 12:
        raise exc.InvalidValue("system type: at most 12 characters (SMPP limit)")
    if c.bind_mode not in BIND_MODES:
        raise exc.InvalidValue(f"bind mode: one of {', '.join(BIND_MODES)}")
    if c.id_mode not in ID_MODES:
        raise exc.InvalidValue(f"id mode: one of {', '.join(ID_MODES)}")
    if c.coding not in CODINGS:
        raise exc.InvalidValue(f"coding: one of {', '.join(CODINGS)}")
    if not 1 <= c.window <= 1000:
        raise exc.InvalidValue("window: 1 to 1000")
    if c.throughput < 0 or c.enquire_link_s <= 0:
        raise exc.InvalidValue("throughput >= 0 and enquire-link > 0")


def check_callback_url(url: str) -> None:
    """The one validator (`webhooks.target.target_of`) on operator input: its refusal
    as InvalidValue, same sentence (the SSRF guard runs at send time)."""
    try:
        target_of(url)
    except exc.Refused as refusal:
        raise exc.InvalidValue(str(refusal)) from None


async def private_target(url: str) -> str | None:
    """Why the SSRF guard (private targets not allowed) will refuse callbacks to `url`:
    its host is, or resolves to, an address the guard forbids. None when it will not, or
    when the name does not resolve now (the guard resolves again at each send)."""
    try:
        target = target_of(url)
    except exc.Refused as refusal:
        return str(refusal)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await guard.addresses(target.host, target.port, allow_private=True)
    except (exc.Refused, TimeoutError):
        return None
    forbidden = [a for a in found if guard.forbidden(a)]
    if not forbidden:
        return None
    if forbidden == [target.host]:
        return f"{target.host} is a private or loopback address"
    return f"{target.host} resolves to {forbidden[0]}, a private or loopback address"
