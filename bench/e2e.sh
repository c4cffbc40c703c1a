#!/usr/bin/env bash
# bench/e2e.sh [N [C]] [e2e_bench.py options]   -- run by hand, never in CI
#
# End-to-end delivery benchmark: installs wrk from Debian if missing, then runs
# bench/e2e_bench.py, which starts its own SMSC simulator, a fresh SQLite file
# with a connector to it and `passerelle serve` (delivery on), sends N `envoi`
# GETs at concurrency C with wrk, waits (bounded) for every receipt, reports
# end-to-end msg/s, and stops what it started (by pid).  Examples:
#   bench/e2e.sh 20000 50                    # window 100, 3 runs
#   bench/e2e.sh 20000 50 --window 10        # Kannel's default window
#   bench/e2e.sh 20000 50 --runs 1 --profile /tmp/e2e-prof.txt   # py-spy by thread
#   bench/e2e.sh --help
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
args=()
if [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then args+=(-n "$1"); shift; fi
if [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then args+=(-c "$1"); shift; fi
PY="$HERE/../.venv/bin/python"
[ -x "$PY" ] || PY=python3
exec "$PY" "$HERE/e2e_bench.py" "${args[@]}" "$@"
