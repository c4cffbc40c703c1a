#!/usr/bin/env python3
"""CPU per callback request: Passerelle's client against httpx and aiohttp. Run by hand.

Starts the callback benchmark's receiver (``callbacks_bench.py receiver``: asyncio +
uvloop, keep-alive, ``200 OK``) on 127.0.0.1, then, in this process on uvloop, sends N
form POSTs shaped like a callback with at most C in flight, through each client in
turn, and prints wall time and this process's CPU per request. Bounded: N <= 200 000,
each request under a 10 s limit; the receiver is stopped by its pid.

    .venv/bin/python bench/client_micro.py [-n 20000] [-c 8] [--clients ours httpx aiohttp]

aiohttp is not a dependency any more: install it beside (``pip install --target
/tmp/aiohttp-lib aiohttp`` and ``PYTHONPATH=/tmp/aiohttp-lib``) or leave it out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from passerelle.webhooks.client import Client, target_of

HERE = Path(__file__).resolve().parent
BODY = (
    b"msgid=123456789&dest=33612345678&statut=1&stat=DELIVRD&err=000"
    b"&date=2026-11-25T10%3A00%3A00Z&login=bench&event_id=12345"
)
SIGNATURE = "t=1764064800,v1=" + "a" * 64
Send = Callable[[int], Awaitable[int]]


async def ours(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    client = Client(allow_private=True)
    target = target_of(url)

    async def send(i: int) -> int:
        headers = (
            f"X-Passerelle-Event-Id: {i}\r\nUser-Agent: Passerelle-Callbacks/1\r\n"
            f"X-Passerelle-Signature: {SIGNATURE}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        )
        return await client.request(target, "POST", target.path, BODY, headers)

    async def close() -> None:
        client.close()

    return send, close


async def with_httpx(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))

    async def send(i: int) -> int:
        response = await client.post(url, content=BODY, headers=headers_for(i))
        return response.status_code

    return send, client.aclose


async def with_aiohttp(url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), auto_decompress=False
    )

    async def send(i: int) -> int:
        async with session.post(
            url, data=BODY, headers=headers_for(i), allow_redirects=False
        ) as response:
            await response.read()
            return response.status

    return send, session.close


def headers_for(i: int) -> dict[str, str]:
    return {
        "X-Passerelle-Event-Id": str(i),
        "User-Agent": "Passerelle-Callbacks/1",
        "X-Passerelle-Signature": SIGNATURE,
        "Content-Type": "application/x-www-form-urlencoded",
    }


CLIENTS = {"ours": ours, "httpx": with_httpx, "aiohttp": with_aiohttp}


async def measure(name: str, url: str, n: int, concurrency: int) -> None:
    try:
        send, close = await CLIENTS[name](url)
    except ImportError:
        print(f"{name:8s} not installed, skipped")
        return
    limit = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}

    async def one(i: int) -> None:
        async with limit, asyncio.timeout(10):
            status = await send(i)
        statuses[status] = statuses.get(status, 0) + 1

    await one(-1)  # connect before measuring
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await close()
    print(
        f"{name:8s} {n} POSTs, {concurrency} in flight: {n / wall:8.0f} req/s,"
        f" CPU {1e6 * cpu / n:7.1f} us/request, statuses {statuses}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-c", type=int, default=8)
    ap.add_argument("--clients", nargs="+", choices=sorted(CLIENTS), default=list(CLIENTS))
    args = ap.parse_args()
    if not (1 <= args.n <= 200_000 and 1 <= args.c <= 1000):
        ap.error("out of bounds")
    with tempfile.TemporaryDirectory() as folder:
        stats = Path(folder) / "stats.json"
        receiver = subprocess.Popen(
            [sys.executable, str(HERE / "callbacks_bench.py"), "receiver", "--stats-file", stats],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                if stats.exists() and stats.stat().st_size:
                    break
                time.sleep(0.05)
            url = f"http://127.0.0.1:{json.loads(stats.read_text())['port']}/dlr"
            for name in args.clients:
                uvloop.run(measure(name, url, args.n, args.c))
        finally:
            os.kill(receiver.pid, signal.SIGTERM)
            receiver.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
