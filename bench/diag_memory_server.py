#!/usr/bin/env python3
"""Diagnostic only: Passerelle's legacy API on the in-memory store (nothing durable,
no writer thread), same uvicorn settings as `passerelle serve`, account `bench` /
`bench` created in-process.  Measures the HTTP + handler path without SQLite:

    .venv/bin/python bench/diag_memory_server.py PORT_FILE [true|false]   # access log
"""

import asyncio
import socket
import sys

import uvicorn

from passerelle.logs import setup_logging
from passerelle.settings import Settings
from passerelle.wiring import create_app

if __name__ == "__main__":
    access_log = (sys.argv[2] if len(sys.argv) > 2 else "false") == "true"
    settings = Settings.load(
        database_url="memory://", min_api_password_length=4, access_log=access_log
    )
    setup_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    asyncio.run(app.gateway.create_account("bench", "b@example.com", "bench", 100_000_000))
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
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        backlog=4096,
    )
    uvicorn.Server(config).run(sockets=[sock])
