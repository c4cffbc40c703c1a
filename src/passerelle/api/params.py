"""Parameters of the legacy API: raw bytes from path, query and body to named values.

Pure functions, no I/O. Rules (docs/api.md):
- ``name=value`` pairs split on ``&``; ``+`` is a space; percent-decoding to bytes,
  then UTF-8 if valid, else Windows-1252; a name repeated in one place: last wins.
- path style ``/client/api/name/value/...`` parsed from the raw path, so ``%2F`` stays
  inside its value; an odd trailing segment is ignored.
- precedence path < query < body; a canonical name wins over its alias.
- values are trimmed of blanks, except ``msg``.
- bounded: at most `MAX_FIELDS` pairs in a query, a body or a path, and parts in a
  multipart body (the API has eleven parameters and six aliases; a whole `dest` list is one
  field); more is refused (`TooManyFields`, code 18) before anything is decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from passerelle.api.multipart import MAX_FIELDS
from passerelle.core.charset import decode_bytes
from passerelle.core.message import SendRequest
from passerelle.exceptions import TooManyFields

ALIASES: dict[str, tuple[str, ...]] = {
    "action": (),
    "login": ("u",),
    "apipasse": ("apipass",),
    "dest": ("dm",),
    "origine": ("src",),
    "msg": (),
    "sendertype": ("source",),
    "type": ("dc",),
    "callback": ("dr",),
    "msgid": (),
    "groupe": (),  # extension: a contact group's name, with or instead of `dest`
}
BLANKS = " \t\r\n"
PREFIX = b"/client/api"
INDEX = b"/client/api/index.php"


def _unquote(raw: bytes) -> str:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        # A long `dest` list from PHP's urlencode has one escape per number, `%2C`:
        # replacing it is 20 times faster than the general decoder on a 4 MB body.
        if raw.count(b"%") == raw.count(b"%2C") + raw.count(b"%2c"):
            raw = raw.replace(b"%2C", b",").replace(b"%2c", b",")
        else:
            raw = unquote_to_bytes(raw)
    return decode_bytes(raw)


def parse_urlencoded(raw: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` string (query or body)."""
    out: dict[str, str] = {}
    if not raw:
        return out
    seps = raw.count(b"&")
    if seps >= MAX_FIELDS and (
        seps >= 4 * MAX_FIELDS or sum(1 for pair in raw.split(b"&") if pair) > MAX_FIELDS
    ):
        raise TooManyFields()
    if b"%" not in raw:
        # Nothing to percent-decode: when the whole string is UTF-8, so is every piece
        # of it split at the ASCII `&` and `=`, so one decode gives the same values.
        try:
            text = raw.replace(b"+", b" ").decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            for item in text.split("&"):
                if item:
                    key, _, val = item.partition("=")
                    out[key] = val
            return out
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        out[_unquote(name)] = _unquote(value)
    return out


def split_path(raw_path: bytes) -> tuple[bytes, list[bytes], bytes]:
    """``(head, segments, tail)`` with ``head + b"/".join(segments) + tail == raw_path``.

    The head is the legacy prefix (``/client/api/index.php`` or ``/client/api``, when the
    path starts with it) and the slashes after it; the tail is the trailing slashes.
    Path-style pairs are ``segments[0]/segments[1]``, ``segments[2]/segments[3]``...; an
    odd last segment has no value. The parser and the log redaction both read a path
    through this one function, so they always agree on which segment is which value.
    """
    prefix = INDEX if raw_path.startswith(INDEX) else PREFIX if raw_path.startswith(PREFIX) else b""
    rest = raw_path[len(prefix) :]
    inner = rest.strip(b"/")
    if not inner:
        return raw_path, [], b""
    start = len(rest) - len(rest.lstrip(b"/"))
    return raw_path[: len(prefix) + start], inner.split(b"/"), rest[start + len(inner) :]


def parse_path(raw_path: bytes) -> dict[str, str]:
    """Parse path-style pairs after the legacy prefix (``/client/api``) from the raw path."""
    _head, segments, _tail = split_path(raw_path)
    if len(segments) > 2 * MAX_FIELDS + 1:
        raise TooManyFields()
    out: dict[str, str] = {}
    for i in range(0, len(segments) - 1, 2):
        out[_unquote(segments[i])] = _unquote(segments[i + 1])
    return out


def merge(places: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Merge places given from lowest to highest precedence (path, query, body)."""
    out: dict[str, str] = {}
    for place in places:
        out.update(place)
    return out


@dataclass(frozen=True, slots=True)
class LegacyParams:
    """The named values of one legacy request, aliases resolved, blanks trimmed.

    A field is None when the parameter was absent (which the checks treat like empty).
    """

    action: str | None = None
    login: str | None = None
    apipasse: str | None = None
    dest: str | None = None
    origine: str | None = None
    msg: str | None = None
    sendertype: str | None = None
    type: str | None = None
    callback: str | None = None
    msgid: str | None = None
    groupe: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, str]) -> LegacyParams:
        """Resolve canonical names and aliases (canonical wins) and trim values."""
        get = raw.get
        values: list[str | None] = []
        for canonical, aliases, trim in _FIELDS:
            value = get(canonical)
            if value is None:
                for alias in aliases:
                    value = get(alias)
                    if value is not None:
                        break
            if value is not None and trim:
                value = value.strip(BLANKS)
            values.append(value)
        return cls(*values)

    def send_request(self, via_post: bool = False) -> SendRequest:
        """The `envoi` these values ask for, as the service takes it (not checked yet)."""
        return SendRequest(
            self.dest,
            self.origine,
            self.msg,
            self.sendertype,
            self.type,
            self.callback,
            via_post,
            self.groupe or None,
        )


# (canonical name, aliases, trimmed?) in the order of LegacyParams' fields
_FIELDS = tuple((name, aliases, name != "msg") for name, aliases in ALIASES.items())
