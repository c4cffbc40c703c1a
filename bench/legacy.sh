#!/usr/bin/env bash
# bench/legacy.sh [legacy_bench.py options]   -- run by hand, never in CI
#
# Benchmark of the legacy API: installs wrk from Debian if missing, then runs
# bench/legacy_bench.py, which starts its own `passerelle serve` on a fresh
# SQLite file in a temporary folder, loads it from 127.0.0.1 with wrk and a
# 10 000-recipient POST, checks the stored rows, stops the server (by pid) and
# removes the folder.  Examples:
#   bench/legacy.sh                                   # N=20000 C=50, 3 runs, 5 POSTs
#   bench/legacy.sh --access-log false                # the same without the access log
#   bench/kannel.sh                                   # Kannel driven the same way
#   bench/legacy.sh --help
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null; then
    marker=${TMPDIR:-/tmp}/.passerelle-bench-apt-updated
    if [ ! -e "$marker" ]; then
        echo "[bench] apt-get update" >&2
        apt-get update -q >/dev/null && touch "$marker"
    fi
    echo "[bench] apt-get install wrk" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
fi
PY="$HERE/../.venv/bin/python"
[ -x "$PY" ] || PY=python3
exec "$PY" "$HERE/legacy_bench.py" "$@"
