#!/usr/bin/env python3
"""Baseline for the legacy bench: a bare ASGI app on the same uvicorn settings as
`passerelle serve` (uvloop, httptools, no access log) answering every request with
a fixed ``<9 digits>|Message envoyé`` and storing nothing.  It measures the ceiling
of the HTTP stack alone on this machine, in the same sitting:

    .venv/bin/python bench/bare_asgi.py PORT_FILE     # listens on 127.0.0.1, port 0
"""

import socket
import sys

import uvicorn

BODY = "123456789|Message envoyé".encode()
HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(BODY))]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    with open(sys.argv[1], "w") as f:
        f.write(str(sock.getsockname()[1]))
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
