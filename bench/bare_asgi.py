#!/usr/bin/env python3
"""Baseline for the legacy bench: a bare ASGI app on the same uvicorn settings as
`passerelle serve` (uvloop, httptools, no access log) answering every request with
a fixed ``<9 digits>|Message envoyé`` and storing nothing.  It measures the ceiling
of the HTTP stack alone on this machine, in the same sitting:

    .venv/bin/python bench/bare_asgi.py PORT_FILE     # listens on 127.0.0.1, port 0

With ``--group-commit FILE`` each request also queues one row (its query string) for a
writer thread that commits batches to the SQLite file FILE (WAL, ``synchronous=FULL``),
and is answered only after its batch is committed: our durability promise done with
nothing else (no credentials, checks, credits or logs), the ceiling of the accept path.
Load it with the same wrk as the legacy bench, e.g.
``wrk -t1 -c50 -d5s 'http://127.0.0.1:PORT/client/api?action=envoi&dest=33600000000'``.
"""

import asyncio
import queue
import socket
import sqlite3
import sys
import threading

import uvicorn

BODY = "123456789|Message envoyé".encode()
HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(BODY))]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


ROWS: "queue.SimpleQueue" = queue.SimpleQueue()


def writer(path, loop):
    """Commit every queued row in batches (one fsync each), then wake their requests."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS accepted (id INTEGER PRIMARY KEY, query BLOB)")
    while True:
        batch = [ROWS.get()]
        while len(batch) < 512:
            try:
                batch.append(ROWS.get_nowait())
            except queue.Empty:
                break
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO accepted (query) VALUES (?)", [(q,) for q, _ in batch])
        conn.execute("COMMIT")
        for _, done in batch:
            loop.call_soon_threadsafe(_answer, done)


def _answer(done):
    if not done.done():  # its client may have left
        done.set_result(None)


async def app_committed(scope, receive, send):
    if scope["type"] != "http":
        return
    done = asyncio.get_running_loop().create_future()
    ROWS.put((scope["query_string"], done))
    await done
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def committed_at_start(scope, receive, send):
    """`app_committed`, its writer thread started on the server's loop at the first call."""
    if not STARTED:
        STARTED.append(True)
        loop = asyncio.get_running_loop()
        threading.Thread(target=writer, args=(sys.argv[3], loop), daemon=True).start()
    await app_committed(scope, receive, send)


STARTED: list = []


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    with open(sys.argv[1], "w") as f:
        f.write(str(sock.getsockname()[1]))
    group_commit = len(sys.argv) == 4 and sys.argv[2] == "--group-commit"
    config = uvicorn.Config(
        committed_at_start if group_commit else app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
