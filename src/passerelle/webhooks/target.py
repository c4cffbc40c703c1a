"""The one callback-URL validator: `target_of`.

Every caller checks a callback URL here and nowhere else: the service when an operator
sets it (`checks.check_callback_url` turns a refusal into InvalidValue with the same
sentence), the CLI warning about private targets (`checks.private_target`), and the
sender at send time (`webhooks.client`, `webhooks.sender`). A URL is accepted when it
is absolute http or https (the scheme in any case), has a host that is a DNS name after
IDNA encoding or an IP address, and is at most `MAX_URL_LENGTH` characters. Whether
its host may be called (private targets) is the SSRF guard's question
(`webhooks.guard`), asked at send time on the resolved addresses.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import re
from dataclasses import dataclass, field

from yarl import URL

from passerelle.exceptions import Refused

MAX_URL_LENGTH = 2000
HOST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,253}")  # after IDNA encoding (yarl's raw_host)
NOT_HTTP = "callback url: an absolute http:// or https:// URL"


@dataclass(frozen=True, slots=True)
class Target:
    """What a callback URL means on the wire (parsed once per URL)."""

    origin: str  # scheme://host:port, the unit of pooling and per-receiver limits
    host: str  # IDNA-encoded name or bare address, for resolving, SNI and checking
    port: int
    tls: bool
    # "Host: ..." and, if the URL has user information, "Authorization: ..." (kept out
    # of reprs: it may carry a password)
    head: bytes = field(repr=False)
    path: str  # the raw path (percent-encoded as yarl encodes it)
    query: str  # the URL's own raw query ('' if none)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def target_of(url: str) -> Target:
    """Parse and check a callback URL; Refused (saying why) unless it can be called."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"callback url: at most {MAX_URL_LENGTH} characters")
    try:
        u = URL(url)
        host, port = u.raw_host, u.port
    except ValueError:
        raise Refused(NOT_HTTP) from None
    if u.scheme not in ("http", "https") or not host or port is None:
        raise Refused(NOT_HTTP)
    if not HOST_NAME.fullmatch(host) and not _is_address(host):
        raise Refused(f"callback url: invalid host name {host!r}")
    head = f"Host: {u.host_port_subcomponent}\r\n"
    if u.user is not None:
        credentials = f"{u.user}:{u.password or ''}".encode()
        head += f"Authorization: Basic {base64.b64encode(credentials).decode()}\r\n"
    return Target(
        origin=f"{u.scheme}://{host}:{port}",
        host=host,
        port=port,
        tls=u.scheme == "https",
        head=head.encode("ascii"),
        path=u.raw_path or "/",
        query=u.raw_query_string,
    )
