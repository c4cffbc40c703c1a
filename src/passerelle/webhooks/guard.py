"""SSRF guard for callback URLs: http(s) only, and no private, loopback, link-local,
multicast, reserved or unspecified address unless the operator allows private targets.

The check runs at send time, on every address the host resolves to (DNS can change
between configuration and sending). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class Refused(Exception):
    """The URL may not be called; the message says why."""


def forbidden(address: str) -> bool:
    """True for an address a callback must not reach by default."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def check(url: str, allow_private: bool) -> None:
    """Raise Refused unless `url` is http(s) and resolves only to allowed addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("callback URL must be an absolute http:// or https:// URL")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as error:
        raise Refused(f"cannot resolve {parts.hostname}: {error}") from None
    for info in infos:
        address = str(info[4][0])
        if forbidden(address):
            raise Refused(f"{parts.hostname} resolves to {address}, a private address")
