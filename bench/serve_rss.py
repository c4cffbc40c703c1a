"""Memory of a `passerelle serve` process: VmRSS and VmHWM 1 s after it is ready and
1 s after N accepted `envoi` GETs (wrk, as `legacy_bench.py` drives it), accept only.

    .venv/bin/python bench/serve_rss.py [-n 20000] [VAR=VALUE ...]

Each VAR=VALUE is put in the server's environment (e.g. PASSERELLE_CONSOLE=false,
MALLOC_MMAP_THRESHOLD_=1048576) to compare variants. The database is migrated by
`passerelle db upgrade` first, as a deployment does, so `serve` finds it up to date.
Starts its own server on 127.0.0.1 port 0 in a temporary folder; stops it by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import legacy_bench as lb

PASSERELLE = Path(sys.executable).parent / "passerelle"


def memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile of `pid`, in MiB."""
    wanted = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in wanted:
            out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=20_000)
    parser.add_argument("env", nargs="*", help="VAR=VALUE for the server")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="passerelle-rss-"))
    env = dict(os.environ)
    env.update(
        PASSERELLE_DATABASE_URL=f"sqlite:///{folder}/bench.db",
        PASSERELLE_MIN_API_PASSWORD_LENGTH="4",
        PASSERELLE_DELIVERY="false",
        PASSERELLE_MAIL_DIR=str(folder / "mail"),
    )
    env.update(dict(item.split("=", 1) for item in args.env))
    run = {"env": env, "check": True, "timeout": 120, "stdout": subprocess.DEVNULL}
    subprocess.run([str(PASSERELLE), "db", "upgrade"], **run)  # type: ignore[call-overload]
    subprocess.run([str(PASSERELLE), "account", "create", "bench", "--email", "b@example.com",
                    "--api-password", "bench", "--credits", "100000000"], **run)  # fmt: skip
    port_file = folder / "port"
    with (folder / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [str(PASSERELLE), "serve", "--host", "127.0.0.1", "--port", "0",
             "--port-file", str(port_file)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    result: dict[str, object] = {"variant": args.env or ["default"], "requests": args.requests}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text:
                try:
                    url = f"http://127.0.0.1:{text}/readyz"
                    if urllib.request.urlopen(url, timeout=2).status == 200:
                        break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not become ready within 60 s")
        port = int(port_file.read_text())
        time.sleep(1.0)
        result["ready"] = memory(server.pid)
        wrk = [
            "wrk", "-t1", "-c50", "-d120s", "--timeout", "30s", "-s", str(lb.LUA),
            f"http://127.0.0.1:{port}", "--", str(args.requests), lb.GET_PATH, "200",
            lb.OK_PATTERN, "33600000000", "dest",
        ]  # fmt: skip
        subprocess.run(wrk, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=150)
        time.sleep(1.0)
        result["after_load"] = memory(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
