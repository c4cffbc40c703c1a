#!/usr/bin/env bash
# bench/callbacks.sh sender|e2e [callbacks_bench.py options]   -- run by hand, never in CI
#
# Callback benchmark (issue 5): installs wrk from Debian if missing (e2e), then runs
# bench/callbacks_bench.py, which starts its own callback receiver, gateway (and, for
# e2e, SMSC simulator) on 127.0.0.1 and stops them by pid.  Examples:
#   bench/callbacks.sh sender --events 20000 --per-host 8 32
#   bench/callbacks.sh e2e -n 20000 -c 50 [--workers 2]
#   bench/callbacks.sh sender --profile /tmp/cb.txt && bench/pyspy_top.py /tmp/cb.txt
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = e2e ] && ! command -v wrk >/dev/null; then
    echo "[bench] apt-get install wrk" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
fi
PY="$HERE/../.venv/bin/python"
[ -x "$PY" ] || PY=python3
exec "$PY" "$HERE/callbacks_bench.py" "$@"
