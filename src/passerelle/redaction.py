"""Redaction of secrets in what is logged: request targets and event fields.

The legacy API carries `apipasse` in URLs, so every URL is passed through
`redact_target` before it is logged: query values and path-style values of secret
parameters become ``***``. `redact_secrets` is the structlog processor that applies the
same rule to every other log event: a field named like a secret is replaced, and a
``target`` or ``url`` field has its secret query values hidden.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from passerelle.api.params import split_path

SECRET_PARAMS = frozenset({"apipasse", "apipass", "password", "passwd", "pwd", "secret", "token"})
_SECRET_BYTES = frozenset(name.encode() for name in SECRET_PARAMS)
_URL_FIELDS = ("target", "url")
_TEXT_FIELDS = ("msg", "event")
HIDDEN = "***"
_NAMES = "|".join(sorted(SECRET_PARAMS))
# a secret written into free text: name=value (a query) or /name/value (a path)
_IN_TEXT = re.compile(rf"(?i)(\b(?:{_NAMES})=)[^&\s\"'#]*|(/(?:{_NAMES})/)[^/?&\s\"'#]*")


def _is_secret(raw_name: bytes) -> bool:
    """The name as the API parser reads it (+ and %XX decoded), compared case-blind."""
    if raw_name.isalnum():  # ASCII letters and digits only: nothing to decode or strip
        return raw_name.lower() in _SECRET_BYTES
    name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1").strip().lower()
    return name in SECRET_PARAMS


def redact_target(raw_path: bytes, query: bytes = b"") -> str:
    """The request target for logs, with secret values replaced by ``***``.

    The path is cut into name/value pairs by the API parser's own `split_path`, so the
    value redacted is the one the parser reads as ``apipasse`` whatever the words
    around it (``/msg/Password/apipasse/x`` hides ``x``, not ``apipasse``). Names are
    decoded as the parser decodes them (so ``api%70asse`` is caught) and values end
    where the parser ends them (``&`` in a query, ``/`` in a path), so a secret is
    hidden whole however it is written.
    """
    target = raw_path
    head, segments, tail = split_path(raw_path)
    changed = False
    for i in range(0, len(segments) - 1, 2):
        if _is_secret(segments[i]):
            segments[i + 1] = b"***"
            changed = True
    if changed:
        target = head + b"/".join(segments) + tail
    if query:
        pairs = query.split(b"&")
        for i, pair in enumerate(pairs):
            name, eq, _value = pair.partition(b"=")
            if eq and _is_secret(name):
                pairs[i] = name + b"=***"
        target += b"?" + b"&".join(pairs)
    return target.decode("latin-1")


def _redact_url(url: str) -> str:
    """`url` with secret values hidden as `redact_target` hides them (unchanged when no
    secret name appears in it)."""
    lowered = url.lower()
    if not any(name in lowered for name in SECRET_PARAMS):
        return url
    path, mark, query = url.encode("utf-8", "surrogateescape").partition(b"?")
    hidden = redact_target(path, query) if query else redact_target(path) + mark.decode()
    return hidden.encode("latin-1").decode("utf-8", "surrogateescape")


def _redact_text(text: str) -> str:
    return _IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + HIDDEN, text)


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: secret-named fields become ``***``; ``target`` and ``url``
    fields keep their shape with secret values hidden; in the message, ``name=value``
    and ``/name/value`` of a secret name are hidden (a URL quoted by a library)."""
    for key, value in event.items():
        if key.lower() in SECRET_PARAMS:
            event[key] = HIDDEN
        elif not isinstance(value, str):
            continue
        elif key in _URL_FIELDS:
            event[key] = _redact_url(value)
        elif key in _TEXT_FIELDS:
            event[key] = _redact_text(value)
    return event
