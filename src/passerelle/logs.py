"""Structured logs (one JSON object per line) and redaction of secrets in URLs.

The legacy API carries `apipasse` in URLs, so every URL is passed through
`redact_target` before it is logged: query values and path-style values of secret
parameters become ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

SECRET_PARAMS = ("apipasse", "apipass", "password", "passwd", "pwd", "secret", "token")
_QUERY_SECRET = re.compile(
    rb"(?i)((?:^|[&?;])(?:" + b"|".join(p.encode() for p in SECRET_PARAMS) + rb")=)[^&;#]*"
)
_PATH_SECRET = re.compile(
    rb"(?i)(/(?:" + b"|".join(p.encode() for p in SECRET_PARAMS) + rb")/)[^/?#]*"
)
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's coloured duplicate of msg
}


def redact_target(raw_path: bytes, query: bytes = b"") -> str:
    """The request target for logs, with secret values replaced by ``***``."""
    path = _PATH_SECRET.sub(rb"\1***", raw_path)
    target = path + (b"?" + _QUERY_SECRET.sub(rb"\1***", query) if query else b"")
    return target.decode("latin-1")


def redact_text(text: str) -> str:
    """Redact secrets from any text that may hold a URL (exception messages)."""
    return redact_target(text.encode("utf-8", "replace"))


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
