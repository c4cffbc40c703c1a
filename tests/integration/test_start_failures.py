"""A gateway whose store cannot open inside its lifespan: one log line, exit 3, no restart."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from passerelle.exceptions import ConfigError
from passerelle.wiring import create_app
from tests.support import make_settings

SUPERVISE = """
import socket, sys
from passerelle.logs import setup_logging
from passerelle.workers import WorkerPool
setup_logging("info", "json")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(16)
sys.exit(WorkerPool(sock, 2, {"database_url": sys.argv[1], "log_level": "info"}).run(2.0))
"""


def test_workers_that_cannot_start_are_not_restarted(tmp_path: Path) -> None:
    """`--workers 2` on a store that fails in each worker's lifespan: each says why in one
    line, the supervisor starts each worker once, stops and exits 3; no traceback."""
    url = f"sqlite:///{tmp_path}/missing/x.db"
    done = subprocess.run(
        [sys.executable, "-c", SUPERVISE, url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    messages = [e["msg"] for e in events]
    assert messages.count("worker started") == 2, messages
    assert "worker died; starting it again" not in messages
    assert messages.count("worker could not start (see its line above): stopping") == 1
    reasons = [m for m in messages if m.startswith("cannot start: ")]
    assert reasons and all(f"{tmp_path}/missing does not exist" in m for m in reasons)


async def test_lifespan_failure_is_one_line_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real SQLite store that cannot open: the ASGI start fails with no traceback text
    for the server to print, and one error line says why."""
    app = create_app(make_settings(database_url=f"sqlite:///{tmp_path}/missing/x.db"))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO), pytest.raises(ConfigError):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == [{"type": "lifespan.startup.failed", "message": ""}]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"cannot start: {app.failure}"]
    assert errors[0].exc_info is None
    assert app.failure is not None and "missing does not exist" in app.failure
