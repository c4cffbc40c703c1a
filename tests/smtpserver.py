"""A real SMTP server for the mail tests: aiosmtpd in a subprocess on 127.0.0.1.

`python -m tests.smtpserver --port P --port-file F --spool DIR [--refuse]` listens on
port P (0: the kernel picks a free one), writes the port to F once it listens, and
keeps each message it accepts as a JSON file in DIR (envelope sender, recipients and
the data as received); with `--refuse` it answers every DATA with 554.
`SmtpServer` starts it, waits for its port, reads what it received, and stops it by its
pid (a restart on the same port is a server that comes back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Received:
    """A message the server accepted: its envelope and its data."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class SmtpServer:
    """One aiosmtpd subprocess; `start` again after `stop` comes back on the same port."""

    def __init__(self, spool: Path, port: int = 0) -> None:
        self.spool = spool
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, refuse: bool = False) -> int:
        """Start listening (refusing every message when `refuse`); the port."""
        self.spool.mkdir(parents=True, exist_ok=True)
        port_file = self.spool / "port"
        port_file.unlink(missing_ok=True)
        args = [sys.executable, "-m", "tests.smtpserver", "--port", str(self.port),
                "--port-file", str(port_file), "--spool", str(self.spool)]  # fmt: skip
        self.process = subprocess.Popen([*args, *(["--refuse"] if refuse else [])], cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_file.exists() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the SMTP test server did not start")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        return self.port

    def stop(self) -> None:
        """Stop the server (SIGTERM to its pid, then SIGKILL) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def received(self) -> list[Received]:
        """The messages accepted so far, in order."""
        out = []
        for path in sorted(self.spool.glob("*.json")):
            raw = json.loads(path.read_text())
            out.append(Received(raw["mail_from"], raw["rcpt_tos"], raw["data"].encode("latin-1")))
        return out


class _Spool:
    """The aiosmtpd handler: keep each message, or refuse it."""

    def __init__(self, folder: Path, refuse: bool) -> None:
        self.folder = folder
        self.refuse = refuse
        self.count = len(list(folder.glob("*.json")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "554 5.7.1 refused by the test server"
        self.count += 1
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  "data": bytes(envelope.original_content).decode("latin-1")}  # fmt: skip
        (self.folder / f"{self.count:06d}.json").write_text(json.dumps(record))
        return "250 2.0.0 OK"


async def _serve(port: int, port_file: Path, spool: Path, refuse: bool) -> None:
    from aiosmtpd.smtp import SMTP

    handler = _Spool(spool, refuse)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test"), "127.0.0.1", port
    )
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--refuse", action="store_true")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.port_file, args.spool, args.refuse))


if __name__ == "__main__":
    main()
