"""SSRF guard for callback URLs: http(s) only, and no private, loopback, link-local,
multicast, reserved or unspecified address unless the operator allows private targets.

The check runs at send time, on every address the host resolves to (DNS can change
between configuration and sending), each time the sender opens a connection; the
connection is then made to one of those checked addresses, never to the name resolved
again (no DNS-rebinding window). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from passerelle.exceptions import Refused as Refused  # defined in the error tree


def forbidden(address: str) -> bool:
    """True for an address a callback must not reach by default."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv4 address carried inside IPv6 (mapped ::ffff:a.b.c.d, or 6to4 2002:AABB:CCDD::)
        # is judged as that IPv4 address
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, in order; Refused if any is forbidden (unless
    private targets are allowed). The caller connects to these, not to the name."""
    try:
        found = [str(ipaddress.ip_address(host))]  # a literal needs no DNS
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as error:
            raise Refused(f"cannot resolve {host}: {error}") from None
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in found:
            if forbidden(address):
                raise Refused(f"{host} resolves to {address}, a private address")
    return found
