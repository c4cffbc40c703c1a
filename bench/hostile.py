#!/usr/bin/env python3
"""Hostile requests: how long each takes to be answered once its last byte is sent, and
how `/healthz` fares meanwhile. Run by hand, never in CI.

Starts `passerelle serve` on a fresh SQLite file in a temporary folder (one account,
`hostile`), then sends each case below over a raw socket from one thread while another
thread times `GET /healthz` every 20 ms (bounded: each case ends within 30 s):

- `466k-parts`: a 4 MB multipart body of 466 000 empty parts;
- `1M-pairs`: a 4 MB form body of 1 000 000 `a=1` pairs;
- `dest-290k`: a 4 MB form body whose `dest` lists 290 000 numbers, comma separated;
- `dest-290k-%2C`: the same list as PHP's urlencode writes it (`%2C` between numbers);
- `dest-50k`: an acceptable POST of 50 000 recipients (it is stored and charged);
- `header-1MB`: a 1 MB header line.

For each: the answer, the time from the last byte sent to the answer, and the slowest
`/healthz`. Everything on 127.0.0.1; the server is stopped by its pid; the folder removed.

    .venv/bin/python bench/hostile.py [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSERELLE = ROOT / ".venv" / "bin" / "passerelle"
AUTH = b"login=hostile&apipasse=hostile-pass-1"
MAX_BODY = 4 * 1024 * 1024


def post(body: bytes, content_type: bytes = b"application/x-www-form-urlencoded") -> bytes:
    return (
        b"POST /client/api HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: " + content_type + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def cases() -> dict[str, bytes]:
    numbers = [b"336%08d" % i for i in range(290_000)]
    send = b"action=envoi&" + AUTH + b"&msg=x&origine=Bench&dest="
    return {
        "466k-parts": post(b"--B\r\n\r\n\r\n" * 466_000, b"multipart/form-data; boundary=B"),
        "1M-pairs": post(b"a=1&" * 1_000_000),
        "dest-290k": post((send + b",".join(numbers))[:MAX_BODY]),
        "dest-290k-%2C": post((send + b"%2C".join(numbers))[:MAX_BODY]),
        "dest-50k": post(send + b"%2C".join(numbers[:50_000])),
        "header-1MB": b"GET /client/api HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"a" * (1024 * 1024)
        + b"\r\n\r\n",
    }


def send_timed(port: int, request: bytes) -> tuple[str, float]:
    """Send `request`; (first answer line or body, seconds from last byte sent to answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sent_at = 0.0

        def write() -> None:
            nonlocal sent_at
            with contextlib.suppress(OSError):  # the server may answer before the end
                sock.sendall(request)
            sent_at = time.monotonic()

        writer = threading.Thread(target=write)
        writer.start()
        data = b""
        first_at = None
        while True:
            chunk = sock.recv(65536)
            if first_at is None:
                first_at = time.monotonic()
            if not chunk:
                break
            data += chunk
        writer.join(30)
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    answer = f"{status} | {body.decode('utf-8', 'replace')[:40]}"
    return answer, max(0.0, (first_at or sent_at) - sent_at)


def healthz_max(port: int, stop: threading.Event, out: list[float]) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(request)
            while sock.recv(4096):
                pass
        out.append(time.monotonic() - started)
        stop.wait(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="passerelle-hostile-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")},
        "PASSERELLE_DATABASE_URL": f"sqlite:///{folder / 'p.db'}",
        "PASSERELLE_LOG_LEVEL": "warning",
        "PASSERELLE_ACCESS_LOG": "false",
    }
    subprocess.run(
        [str(PASSERELLE), "account", "create", "hostile", "--email", "h@example.com",
         "--api-password", "hostile-pass-1", "--credits", "10000000"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port_file = folder / "port"
    server = subprocess.Popen(
        [str(PASSERELLE), "serve", "--port", "0", "--port-file", str(port_file)],
        env=env, cwd=folder, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.05)
        port = int(port_file.read_text())
        time.sleep(1.0)
        print(f"{'case':<16} {'answer':<48} {'answered after (ms)':>20} {'slowest /healthz':>17}")
        for name, request in cases().items():
            answers, latencies, healthz = [], [], []
            for _ in range(args.runs):
                stop = threading.Event()
                seen: list[float] = []
                watcher = threading.Thread(target=healthz_max, args=(port, stop, seen))
                watcher.start()
                time.sleep(0.1)
                answer, seconds = send_timed(port, request)
                time.sleep(0.1)
                stop.set()
                watcher.join(60)
                answers.append(answer)
                latencies.append(seconds * 1000)
                healthz.append(max(seen) * 1000)
            print(
                f"{name:<16} {answers[-1]:<48} {statistics.median(latencies):>20.1f}"
                f" {statistics.median(healthz):>17.1f}"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
