"""Structured logs (one JSON object per line) and redaction of secrets in URLs.

The legacy API carries `apipasse` in URLs, so every URL is passed through
`redact_target` before it is logged: query values and path-style values of secret
parameters become ``***``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any
from urllib.parse import unquote_to_bytes

SECRET_PARAMS = frozenset({"apipasse", "apipass", "password", "passwd", "pwd", "secret", "token"})
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's coloured duplicate of msg
}


def _is_secret(raw_name: bytes) -> bool:
    """The name as the API parser reads it (+ and %XX decoded), compared case-blind."""
    name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1").strip().lower()
    return name in SECRET_PARAMS


def redact_target(raw_path: bytes, query: bytes = b"") -> str:
    """The request target for logs, with secret values replaced by ``***``.

    Names are decoded exactly as the API parser decodes them (so ``api%70asse`` is
    caught) and values end where the parser ends them (``&`` in a query, ``/`` in a
    path), so a secret is hidden whole however it is written.
    """
    segments = raw_path.split(b"/")
    for i in range(len(segments) - 1):
        if segments[i] and _is_secret(segments[i]):
            segments[i + 1] = b"***"
    target = b"/".join(segments)
    if query:
        pairs = query.split(b"&")
        for i, pair in enumerate(pairs):
            name, eq, _value = pair.partition(b"=")
            if eq and _is_secret(name):
                pairs[i] = name + b"=***"
        target += b"?" + b"&".join(pairs)
    return target.decode("latin-1")


def redact_text(text: str) -> str:
    """Redact secrets from any text that may hold a URL (exception messages)."""
    path, _, query = text.encode("utf-8", "replace").partition(b"?")
    return redact_target(path, query)


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., <extra fields>}``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, alembic's) to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
